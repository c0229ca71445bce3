//! The git data API: refs, blobs, trees and commits, with git's own object ids.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, ApiResult, created, with_repo};
use super::git::{Commit, MODE_TREE, Object};
use super::repo::{Repo, signature};
use super::{GitHub, json as shape, now};

fn ref_json(base: &str, r: &Repo, name: &str, oid: &str) -> Value {
    let url = shape::repo_url(base, r);
    json!({"ref": name, "node_id": format!("REF_{oid}"), "url": format!("{url}/git/{name}"),
           "object": {"type": "commit", "sha": oid, "url": format!("{url}/git/commits/{oid}")}})
}

fn full_ref(name: &str) -> String {
    if name.starts_with("refs/") {
        name.to_string()
    } else {
        format!("refs/{name}")
    }
}

pub async fn get_ref(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, name)): Path<(String, String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let name = full_ref(&name);
        let oid = r.refs.get(&name).ok_or_else(ApiError::not_found)?;
        Ok(Json(ref_json(base, r, &name, oid)).into_response())
    })
}

#[derive(Deserialize)]
pub struct NewRef {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
}

pub async fn create_ref(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Json(body): Json<NewRef>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        if !body.name.starts_with("refs/") || body.name.matches('/').count() < 2 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Reference name must start with 'refs/' and have at least two slashes.",
            ));
        }
        if r.refs.contains_key(&body.name) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Reference already exists",
            ));
        }
        if r.odb.commit(&body.sha).is_none() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Object does not exist",
            ));
        }
        r.refs.insert(body.name.clone(), body.sha.clone());
        Ok(created(ref_json(base, r, &body.name, &body.sha)))
    })
}

#[derive(Deserialize)]
pub struct RefUpdate {
    sha: String,
    #[serde(default)]
    force: bool,
}

pub async fn update_ref(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, name)): Path<(String, String, String)>,
    Json(body): Json<RefUpdate>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let name = full_ref(&name);
        let current = r.refs.get(&name).cloned().ok_or_else(|| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist")
        })?;
        if r.odb.commit(&body.sha).is_none() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Object does not exist",
            ));
        }
        if !body.force && !r.odb.is_ancestor(&current, &body.sha) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Update is not a fast forward",
            ));
        }
        r.refs.insert(name.clone(), body.sha.clone());
        Ok(Json(ref_json(base, r, &name, &body.sha)).into_response())
    })
}

#[derive(Deserialize)]
pub struct NewBlob {
    content: String,
    #[serde(default)]
    encoding: Option<String>,
}

pub async fn create_blob(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Json(body): Json<NewBlob>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let data = match body.encoding.as_deref() {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(body.content.replace('\n', ""))
                .map_err(|_| {
                    ApiError::validation(
                        "Blob",
                        "content",
                        "invalid",
                        "content is not valid Base64",
                    )
                })?,
            None | Some("utf-8") => body.content.into_bytes(),
            Some(other) => {
                return Err(ApiError::validation(
                    "Blob",
                    "encoding",
                    "invalid",
                    &format!("unknown encoding {other}"),
                ));
            }
        };
        let oid = r.odb.put_blob(data);
        Ok(created(
            json!({"sha": oid, "url": format!("{}/git/blobs/{oid}", shape::repo_url(base, r))}),
        ))
    })
}

/// Parsed by hand: serde cannot tell `"sha": null` (delete the path) from a missing `sha`.
pub struct NewTree {
    base_tree: Option<String>,
    tree: Vec<NewEntry>,
}

pub struct NewEntry {
    path: String,
    mode: String,
    kind: String,
    /// `Some(None)`: `"sha": null`, which deletes the path.
    sha: Option<Option<String>>,
    content: Option<String>,
}

fn tree_json(base: &str, r: &Repo, oid: &str, recursive: bool) -> Value {
    let url = shape::repo_url(base, r);
    let mut entries = Vec::new();
    let mut stack = vec![(oid.to_string(), String::new())];
    while let Some((tree, prefix)) = stack.pop() {
        if let Some(Object::Tree(items)) = r.odb.get(&tree) {
            for e in items {
                let path = format!("{prefix}{}", e.name);
                let is_tree = e.mode == MODE_TREE;
                let mut v = json!({"path": path, "mode": if is_tree { "040000" } else { e.mode.as_str() },
                    "type": if is_tree { "tree" } else { "blob" }, "sha": e.oid,
                    "url": format!("{url}/git/{}/{}", if is_tree { "trees" } else { "blobs" }, e.oid)});
                if let Some(b) = r.odb.blob(&e.oid) {
                    v["size"] = json!(b.len());
                }
                entries.push(v);
                if is_tree && recursive {
                    stack.push((e.oid.clone(), format!("{path}/")));
                }
            }
        }
    }
    json!({"sha": oid, "url": format!("{url}/git/trees/{oid}"), "tree": entries, "truncated": false})
}

pub async fn create_tree(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ApiResult {
    let body: NewTree = parse_tree(body)?;
    with_repo(&gh, &o, &n, |r, base| {
        let mut files = match &body.base_tree {
            Some(t) => {
                if !matches!(r.odb.get(t), Some(Object::Tree(_))) {
                    return Err(ApiError::validation(
                        "Tree",
                        "base_tree",
                        "invalid",
                        "base_tree is not a valid tree oid",
                    ));
                }
                r.odb.flatten(t)
            }
            None => Default::default(),
        };
        for e in body.tree {
            if e.kind != "blob" {
                return Err(ApiError::validation(
                    "Tree",
                    "tree.type",
                    "invalid",
                    "only blob entries are supported",
                ));
            }
            match (e.sha, e.content) {
                (Some(None), _) => {
                    files.remove(&e.path);
                }
                (Some(Some(sha)), _) => {
                    if r.odb.blob(&sha).is_none() {
                        return Err(ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!("tree.sha {sha} is not a valid blob"),
                        ));
                    }
                    files.insert(e.path, (e.mode, sha));
                }
                (None, Some(content)) => {
                    let oid = r.odb.put_blob(content.into_bytes());
                    files.insert(e.path, (e.mode, oid));
                }
                (None, None) => {
                    return Err(ApiError::validation(
                        "Tree",
                        "tree",
                        "missing_field",
                        "each entry needs `sha` or `content`",
                    ));
                }
            }
        }
        let oid = r.odb.build_tree(&files);
        Ok(created(tree_json(base, r, &oid, true)))
    })
}

fn parse_tree(body: Value) -> Result<NewTree, ApiError> {
    let bad = |m: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Invalid request.\n\n{m}"),
        )
    };
    let base_tree = body
        .get("base_tree")
        .and_then(Value::as_str)
        .map(str::to_string);
    let items = body
        .get("tree")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("\"tree\" wasn't supplied."))?;
    let mut tree = Vec::new();
    for item in items {
        let s = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(path), Some(mode), Some(kind)) = (s("path"), s("mode"), s("type")) else {
            return Err(bad("tree entries need path, mode and type"));
        };
        let sha = match item.get("sha") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(v.as_str().map(str::to_string)),
        };
        tree.push(NewEntry {
            path,
            mode,
            kind,
            sha,
            content: s("content"),
        });
    }
    Ok(NewTree { base_tree, tree })
}

pub async fn get_tree(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, sha)): Path<(String, String, String)>,
    axum::extract::Query(q): super::api::Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        // A commit id is accepted too, as GitHub does.
        let tree = r.odb.commit(&sha).map(|c| c.tree.clone()).unwrap_or(sha);
        if !matches!(r.odb.get(&tree), Some(Object::Tree(_))) {
            return Err(ApiError::not_found());
        }
        let recursive = q
            .get("recursive")
            .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
        Ok(Json(tree_json(base, r, &tree, recursive)).into_response())
    })
}

fn git_commit_json(base: &str, r: &Repo, oid: &str) -> Value {
    let url = shape::repo_url(base, r);
    let Some(c) = r.odb.commit(oid) else {
        return Value::Null;
    };
    let person = |s: &super::git::Signature| json!({"name": s.name, "email": s.email, "date": shape::time(s.time)});
    json!({
        "sha": oid, "node_id": format!("C_{oid}"), "url": format!("{url}/git/commits/{oid}"),
        "html_url": format!("{base}/{}/commit/{oid}", r.full_name()),
        "author": person(&c.author), "committer": person(&c.committer), "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{url}/git/trees/{}", c.tree)},
        "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{url}/git/commits/{p}"),
            "html_url": format!("{base}/{}/commit/{p}", r.full_name())})).collect::<Vec<_>>(),
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null},
    })
}

pub async fn get_commit(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, sha)): Path<(String, String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        if r.odb.commit(&sha).is_none() {
            return Err(ApiError::not_found());
        }
        Ok(Json(git_commit_json(base, r, &sha)).into_response())
    })
}

#[derive(Deserialize)]
pub struct NewCommit {
    message: String,
    tree: String,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    author: Option<Person>,
}

#[derive(Deserialize)]
pub struct Person {
    name: String,
}

pub async fn create_commit(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Json(body): Json<NewCommit>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        if !matches!(r.odb.get(&body.tree), Some(Object::Tree(_))) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Tree SHA does not exist",
            ));
        }
        if let Some(p) = body.parents.iter().find(|p| r.odb.commit(p).is_none()) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Parent SHA does not exist or is not a commit object: {p}"),
            ));
        }
        let who = body
            .author
            .map(|a| a.name)
            .unwrap_or_else(|| "sandbox-bot".to_string());
        let sig = signature(&who, now());
        let oid = r.odb.put_commit(Commit {
            tree: body.tree,
            parents: body.parents,
            author: sig.clone(),
            committer: sig,
            message: body.message,
        });
        Ok(created(git_commit_json(base, r, &oid)))
    })
}
