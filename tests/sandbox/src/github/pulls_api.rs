//! Pull requests: list, get, files, commits, reviews, create, merge, comments, labels, the
//! pull requests of a commit, and issue search over them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiError, ApiResult, Params, created, paginate, resolve, with_repo};
use super::git::Commit;
use super::repo::{Pull, Repo, signature};
use super::{GitHub, json as shape, lock, now};

type PullPath = Path<(String, String, u64)>;

fn pull_or_404(r: &Repo, number: u64) -> Result<Pull, ApiError> {
    r.pull(number).cloned().ok_or_else(ApiError::not_found)
}

pub async fn list(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let state = q.get("state").map(String::as_str).unwrap_or("open");
        let mut pulls: Vec<&Pull> = r
            .pulls
            .iter()
            .filter(|p| state == "all" || p.state == state)
            .filter(|p| {
                q.get("head").is_none_or(|h| {
                    let (owner, branch) = h.split_once(':').unwrap_or((&r.owner, h));
                    owner == r.owner && branch == p.head_ref
                })
            })
            .filter(|p| q.get("base").is_none_or(|b| *b == p.base_ref))
            .collect();
        pulls.sort_by_key(|p| std::cmp::Reverse(p.created_at));
        let items = pulls
            .into_iter()
            .map(|p| shape::pull(base, r, p, false))
            .collect();
        Ok(paginate(
            items,
            &q,
            &format!("{}/pulls", shape::repo_url(base, r)),
        ))
    })
}

pub async fn get(State(gh): State<Arc<GitHub>>, Path((o, n, num)): PullPath) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let p = pull_or_404(r, num)?;
        Ok(Json(shape::pull(base, r, &p, true)).into_response())
    })
}

pub async fn files(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, num)): PullPath,
    Query(q): Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let p = pull_or_404(r, num)?;
        let head = r.pull_head(&p);
        let base_sha = (!p.base_sha.is_empty()).then_some(p.base_sha.as_str());
        let items = r
            .diff(base_sha, &head)
            .iter()
            .map(|f| shape::diff_entry(base, r, &head, f))
            .collect();
        Ok(paginate(
            items,
            &q,
            &format!("{}/pulls/{num}/files", shape::repo_url(base, r)),
        ))
    })
}

pub async fn commits(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, num)): PullPath,
    Query(q): Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let p = pull_or_404(r, num)?;
        let items = r
            .pull_commits(&p)
            .iter()
            .map(|c| shape::commit(base, r, c, None))
            .collect();
        Ok(paginate(
            items,
            &q,
            &format!("{}/pulls/{num}/commits", shape::repo_url(base, r)),
        ))
    })
}

pub async fn reviews(State(gh): State<Arc<GitHub>>, Path((o, n, num)): PullPath) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let p = pull_or_404(r, num)?;
        let head = r.pull_head(&p);
        let items: Vec<Value> = p
            .reviews
            .iter()
            .enumerate()
            .map(|(i, (who, state))| {
                json!({"id": num * 100 + i as u64, "node_id": format!("PRR_{num}_{i}"), "user": shape::user(base, who),
                       "body": "", "state": state, "commit_id": head, "submitted_at": shape::time(p.updated_at),
                       "html_url": format!("{base}/{}/pull/{num}#pullrequestreview-{i}", r.full_name()),
                       "author_association": "MEMBER"})
            })
            .collect();
        Ok(Json(Value::Array(items)).into_response())
    })
}

pub async fn for_commit(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, rev)): Path<(String, String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let oid = resolve(r, &rev)?;
        let items: Vec<Value> = r
            .pulls
            .iter()
            .filter(|p| {
                p.merge_commit_sha.as_deref() == Some(oid.as_str())
                    || r.pull_commits(p).contains(&oid)
            })
            .map(|p| shape::pull(base, r, p, false))
            .collect();
        Ok(Json(Value::Array(items)).into_response())
    })
}

#[derive(Deserialize)]
pub struct NewPull {
    title: Option<String>,
    head: String,
    base: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    draft: bool,
}

pub async fn create(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Json(body): Json<NewPull>,
) -> ApiResult {
    let login = "sandbox-bot".to_string();
    with_repo(&gh, &o, &n, |r, base| {
        let head_ref = body
            .head
            .split_once(':')
            .map(|(_, b)| b)
            .unwrap_or(&body.head)
            .to_string();
        let Some(head) = r.refs.get(&format!("refs/heads/{head_ref}")).cloned() else {
            return Err(ApiError::validation("PullRequest", "head", "invalid", ""));
        };
        let Some(base_head) = r.refs.get(&format!("refs/heads/{}", body.base)).cloned() else {
            return Err(ApiError::validation("PullRequest", "base", "invalid", ""));
        };
        let Some(title) = body.title.filter(|t| !t.trim().is_empty()) else {
            return Err(ApiError::validation(
                "PullRequest",
                "title",
                "missing_field",
                "",
            ));
        };
        if r.pulls
            .iter()
            .any(|p| p.state == "open" && p.head_ref == head_ref && p.base_ref == body.base)
        {
            return Err(ApiError::validation(
                "PullRequest",
                "",
                "custom",
                &format!("A pull request already exists for {}:{head_ref}.", r.owner),
            ));
        }
        let merge_base = r
            .odb
            .first_parent_log(&head)
            .into_iter()
            .find(|c| r.odb.is_ancestor(c, &base_head))
            .unwrap_or_default();
        if merge_base == head {
            return Err(ApiError::validation(
                "PullRequest",
                "",
                "custom",
                &format!("No commits between {} and {head_ref}", body.base),
            ));
        }
        let t = now();
        let p = Pull {
            number: r.next_number(),
            title,
            body: body.body.unwrap_or_default(),
            user: login,
            head_ref,
            head_sha: head,
            base_ref: body.base,
            base_sha: merge_base,
            state: "open".into(),
            draft: body.draft,
            merged_at: None,
            merge_commit_sha: None,
            labels: Vec::new(),
            created_at: t,
            updated_at: t,
            reviews: Vec::new(),
            comments: Vec::new(),
        };
        let v = shape::pull(base, r, &p, true);
        r.pulls.push(p);
        Ok(created(v))
    })
}

#[derive(Deserialize, Default)]
pub struct MergeBody {
    #[serde(default)]
    commit_title: Option<String>,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    merge_method: Option<String>,
}

pub async fn merge(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, num)): PullPath,
    body: Option<Json<MergeBody>>,
) -> ApiResult {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    with_repo(&gh, &o, &n, |r, _base| {
        let p = pull_or_404(r, num)?;
        if p.state != "open" {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Pull Request is not mergeable",
            ));
        }
        let head = r.pull_head(&p);
        if body.sha.as_ref().is_some_and(|s| *s != head) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Head branch was modified. Review and try the merge again.",
            ));
        }
        let method = body.merge_method.as_deref().unwrap_or("merge");
        if !["merge", "squash", "rebase"].contains(&method) {
            return Err(ApiError::validation(
                "PullRequest",
                "merge_method",
                "invalid",
                method,
            ));
        }
        let base_ref = format!("refs/heads/{}", p.base_ref);
        let base_head = r.refs.get(&base_ref).cloned().unwrap_or_default();
        // Apply the PR's changes onto the current base; files also changed on the base since the
        // PR branched off make the merge conflict, as git would report.
        let pr_changes = r.diff(Some(&p.base_sha), &head);
        let base_changes = r.diff(Some(&p.base_sha), &base_head);
        if pr_changes
            .iter()
            .any(|f| base_changes.iter().any(|b| b.filename == f.filename))
        {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Pull Request is not mergeable",
            ));
        }
        let head_files = r.files_at(&head);
        let mut files: BTreeMap<String, (String, String)> = r.files_at(&base_head);
        for f in &pr_changes {
            match head_files.get(&f.filename) {
                Some(entry) => files.insert(f.filename.clone(), entry.clone()),
                None => files.remove(&f.filename),
            };
        }
        let tree = r.odb.build_tree(&files);
        let title = body.commit_title.unwrap_or_else(|| match method {
            "merge" => format!("Merge pull request #{num} from {}/{}", r.owner, p.head_ref),
            _ => format!("{} (#{num})", p.title),
        });
        let parents = if method == "merge" {
            vec![base_head, head.clone()]
        } else {
            vec![base_head]
        };
        let sig = signature("sandbox-bot", now());
        let oid = r.odb.put_commit(Commit {
            tree,
            parents,
            author: sig.clone(),
            committer: sig,
            message: title,
        });
        r.refs.insert(base_ref, oid.clone());
        if let Some(pm) = r.pulls.iter_mut().find(|x| x.number == num) {
            pm.state = "closed".into();
            pm.head_sha = head;
            pm.merged_at = Some(now());
            pm.updated_at = now();
            pm.merge_commit_sha = Some(oid.clone());
        }
        Ok(
            Json(
                json!({"sha": oid, "merged": true, "message": "Pull Request successfully merged"}),
            )
            .into_response(),
        )
    })
}

#[derive(Deserialize)]
pub struct CommentBody {
    body: String,
}

pub async fn comment(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, num)): PullPath,
    Json(c): Json<CommentBody>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let url = shape::repo_url(base, r);
        let full = r.full_name();
        let p = r
            .pulls
            .iter_mut()
            .find(|p| p.number == num)
            .ok_or_else(ApiError::not_found)?;
        if c.body.trim().is_empty() {
            return Err(ApiError::validation(
                "IssueComment",
                "body",
                "missing_field",
                "",
            ));
        }
        p.comments.push(("sandbox-bot".into(), c.body.clone()));
        let id = num * 1000 + p.comments.len() as u64;
        let t = shape::time(now());
        Ok(created(json!({
            "id": id, "node_id": format!("IC_{id}"), "url": format!("{url}/issues/comments/{id}"),
            "html_url": format!("{base}/{full}/pull/{num}#issuecomment-{id}"),
            "issue_url": format!("{url}/issues/{num}"), "body": c.body,
            "user": shape::user(base, "sandbox-bot"), "created_at": t, "updated_at": t,
            "author_association": "MEMBER",
        })))
    })
}

#[derive(Deserialize)]
pub struct Labels {
    labels: Vec<String>,
}

pub async fn add_labels(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, num)): PullPath,
    Json(l): Json<Labels>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let p = r
            .pulls
            .iter_mut()
            .find(|p| p.number == num)
            .ok_or_else(ApiError::not_found)?;
        for label in l.labels {
            if !p.labels.contains(&label) {
                p.labels.push(label);
            }
        }
        let p = p.clone();
        let v = shape::pull(base, r, &p, false);
        Ok(Json(v["labels"].clone()).into_response())
    })
}

/// `GET /search/issues`: `repo:`, `is:pr|issue`, `is:open|closed|merged`, `head:`, `base:`,
/// `label:`, `author:` qualifiers and free words matched against title and body.
pub async fn search(State(gh): State<Arc<GitHub>>, Query(q): Params) -> ApiResult {
    let Some(query) = q.get("q").filter(|s| !s.trim().is_empty()) else {
        return Err(ApiError::validation("Search", "q", "missing", ""));
    };
    let mut repo_filter = None;
    let mut quals: Vec<(String, String)> = Vec::new();
    let mut words = Vec::new();
    for token in query.split_whitespace() {
        match token.split_once(':') {
            Some(("repo", v)) => repo_filter = Some(v.to_string()),
            Some((k, v)) => quals.push((k.to_string(), v.trim_matches('"').to_string())),
            None => words.push(token.trim_matches('"').to_lowercase()),
        }
    }
    let repos = lock(&gh.repos);
    let base = gh.base();
    let mut items = Vec::new();
    for r in repos.values() {
        if repo_filter.as_ref().is_some_and(|f| *f != r.full_name()) {
            continue;
        }
        for p in &r.pulls {
            let text = format!("{} {}", p.title, p.body).to_lowercase();
            let ok = words.iter().all(|w| text.contains(w.as_str()))
                && quals.iter().all(|(k, v)| match (k.as_str(), v.as_str()) {
                    ("is", "pr") => true,
                    ("is", "issue") => false,
                    ("is", "open") | ("state", "open") => p.state == "open",
                    ("is", "closed") | ("state", "closed") => p.state == "closed",
                    ("is", "merged") => p.merged_at.is_some(),
                    ("head", h) => p.head_ref == h,
                    ("base", b) => p.base_ref == b,
                    ("label", l) => p.labels.iter().any(|x| x == l),
                    ("author", a) => p.user == a,
                    ("in", _) => true,
                    _ => false,
                });
            if ok {
                items.push(shape::pull_as_issue(base, r, p));
            }
        }
    }
    let total = items.len();
    Ok(
        Json(json!({"total_count": total, "incomplete_results": false, "items": items}))
            .into_response(),
    )
}
