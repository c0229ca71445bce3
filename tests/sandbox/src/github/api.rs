//! Routing, auth, rate limits, and the read endpoints for repositories, commits, contents,
//! checks, Actions runs, security alerts and issue search.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};

use super::repo::Repo;
use super::{GitHub, git_api, json as shape, lock, now, pulls_api};

/// An error answered in GitHub's JSON shape.
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: None,
        }
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }
    /// 422 with one `errors` entry, as GitHub's validation failures look.
    pub fn validation(resource: &str, field: &str, code: &str, message: &str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".into(),
            errors: Some(
                json!([{"resource": resource, "field": field, "code": code, "message": message}]),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = shape::error(&self.message, self.status.as_u16());
        if let Some(e) = self.errors {
            body["errors"] = e;
        }
        (self.status, Json(body)).into_response()
    }
}

/// Handler result.
pub type ApiResult = Result<Response, ApiError>;

/// Query parameters as a map.
pub type Params = Query<HashMap<String, String>>;

pub fn router(state: Arc<GitHub>) -> Router {
    let r = "/repos/{owner}/{repo}";
    Router::new()
        .route(r, get(repository))
        .route(&format!("{r}/commits"), get(commits))
        .route(&format!("{r}/commits/{{rev}}"), get(commit))
        .route(
            &format!("{r}/commits/{{rev}}/pulls"),
            get(pulls_api::for_commit),
        )
        .route(&format!("{r}/commits/{{rev}}/check-runs"), get(check_runs))
        .route(&format!("{r}/commits/{{rev}}/status"), get(status))
        .route(&format!("{r}/compare/{{basehead}}"), get(compare))
        .route(&format!("{r}/contents"), get(contents_root))
        .route(&format!("{r}/contents/{{*path}}"), get(contents))
        .route(&format!("{r}/git/ref/{{*name}}"), get(git_api::get_ref))
        .route(&format!("{r}/git/refs"), post(git_api::create_ref))
        .route(
            &format!("{r}/git/refs/{{*name}}"),
            get(git_api::get_ref).patch(git_api::update_ref),
        )
        .route(&format!("{r}/git/blobs"), post(git_api::create_blob))
        .route(&format!("{r}/git/trees"), post(git_api::create_tree))
        .route(&format!("{r}/git/trees/{{sha}}"), get(git_api::get_tree))
        .route(&format!("{r}/git/commits"), post(git_api::create_commit))
        .route(
            &format!("{r}/git/commits/{{sha}}"),
            get(git_api::get_commit),
        )
        .route(
            &format!("{r}/pulls"),
            get(pulls_api::list).post(pulls_api::create),
        )
        .route(&format!("{r}/pulls/{{number}}"), get(pulls_api::get))
        .route(
            &format!("{r}/pulls/{{number}}/files"),
            get(pulls_api::files),
        )
        .route(
            &format!("{r}/pulls/{{number}}/commits"),
            get(pulls_api::commits),
        )
        .route(
            &format!("{r}/pulls/{{number}}/reviews"),
            get(pulls_api::reviews),
        )
        .route(
            &format!("{r}/pulls/{{number}}/merge"),
            put(pulls_api::merge),
        )
        .route(
            &format!("{r}/issues/{{number}}/comments"),
            post(pulls_api::comment),
        )
        .route(
            &format!("{r}/issues/{{number}}/labels"),
            post(pulls_api::add_labels),
        )
        .route(&format!("{r}/actions/runs"), get(runs))
        .route(&format!("{r}/{{kind}}/alerts"), get(alerts))
        .route(
            &format!("{r}/secret-scanning/alerts/{{number}}"),
            axum::routing::patch(resolve_secret_alert),
        )
        .route("/search/issues", get(pulls_api::search))
        .route("/rate_limit", get(rate_limit))
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// Auth, request log, secondary and primary rate limits, and the `x-ratelimit-*` headers.
async fn gate(State(gh): State<Arc<GitHub>>, req: Request, next: Next) -> Response {
    let line = format!(
        "{} {}",
        req.method(),
        req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("")
    );
    lock(&gh.requests).push(line);
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("token "))
        })
        .map(str::trim);
    if !token.is_some_and(|t| gh.tokens.iter().any(|k| k == t)) {
        return ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials").into_response();
    }
    let limits = {
        let mut l = lock(&gh.limits);
        if l.secondary_hits > 0 {
            l.secondary_hits -= 1;
            let mut resp = ApiError::new(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&l.retry_after_secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
            return resp;
        }
        if l.reset <= now() {
            l.remaining = l.limit;
            l.reset = now() + l.window_secs;
        }
        let exhausted = l.remaining == 0;
        l.remaining = l.remaining.saturating_sub(1);
        (l.clone(), exhausted)
    };
    let (l, exhausted) = limits;
    let mut resp = if exhausted {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for user ID 1.",
        )
        .into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    for (k, v) in [
        ("x-ratelimit-limit", l.limit.to_string()),
        ("x-ratelimit-remaining", l.remaining.to_string()),
        ("x-ratelimit-reset", l.reset.to_string()),
        ("x-ratelimit-used", (l.limit - l.remaining).to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    h.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    resp
}

/// Runs `f` on the repository in the path, or answers 404.
pub fn with_repo<T>(
    gh: &GitHub,
    owner: &str,
    repo: &str,
    f: impl FnOnce(&mut Repo, &str) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut repos = lock(&gh.repos);
    let r = repos
        .get_mut(&format!("{owner}/{repo}"))
        .ok_or_else(ApiError::not_found)?;
    f(r, gh.base())
}

/// Resolves a revision or answers 422/404 as GitHub does.
pub fn resolve(r: &Repo, rev: &str) -> Result<String, ApiError> {
    r.resolve(rev).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("No commit found for SHA: {rev}"),
        )
    })
}

/// `(page, per_page)` of a list request: 1-based page, 30 per page by default, at most 100.
fn page_window(q: &HashMap<String, String>) -> (usize, usize) {
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<usize>().ok());
    (
        num("page").unwrap_or(1).max(1),
        num("per_page").unwrap_or(30).clamp(1, 100),
    )
}

/// `page` and `per_page` (max 100, default 30) applied to `items`, plus a `Link` header.
pub fn paginate(items: Vec<Value>, q: &HashMap<String, String>, path: &str) -> Response {
    let (page, per_page) = page_window(q);
    let total = items.len();
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut resp = Json(Value::Array(slice)).into_response();
    if page * per_page < total {
        let mut query: Vec<String> = q
            .iter()
            .filter(|(k, _)| *k != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        query.sort();
        query.push(format!("page={}", page + 1));
        let link = format!("<{path}?{}>; rel=\"next\"", query.join("&"));
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert("link", v);
        }
    }
    resp
}

fn parse_time(text: &str, field: &str) -> Result<i64, ApiError> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| ApiError::validation("Commit", field, "invalid", "must be an ISO 8601 time"))
}

async fn repository(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        Ok(Json(shape::repository(base, r)).into_response())
    })
}

async fn commits(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let head = resolve(
            r,
            q.get("sha")
                .map(String::as_str)
                .unwrap_or(&r.default_branch.clone()),
        )?;
        let since = q.get("since").map(|s| parse_time(s, "since")).transpose()?;
        let until = q.get("until").map(|s| parse_time(s, "until")).transpose()?;
        let path = q.get("path").map(|p| p.trim_matches('/').to_string());
        let mut out = Vec::new();
        for oid in r.odb.first_parent_log(&head) {
            let Some(c) = r.odb.commit(&oid) else {
                continue;
            };
            let t = c.committer.time;
            if since.is_some_and(|s| t < s) || until.is_some_and(|u| t > u) {
                continue;
            }
            if let Some(p) = &path {
                let changed = r
                    .diff(c.parents.first().map(String::as_str), &oid)
                    .iter()
                    .any(|f| f.filename == *p || f.filename.starts_with(&format!("{p}/")));
                if !changed {
                    continue;
                }
            }
            out.push(shape::commit(base, r, &oid, None));
        }
        Ok(paginate(
            out,
            &q,
            &format!("{}/commits", shape::repo_url(base, r)),
        ))
    })
}

async fn commit(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, rev)): Path<(String, String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let oid = resolve(r, &rev)?;
        let parent = r.odb.commit(&oid).and_then(|c| c.parents.first().cloned());
        let files = r.diff(parent.as_deref(), &oid);
        Ok(Json(shape::commit(base, r, &oid, Some(&files))).into_response())
    })
}

async fn compare(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, basehead)): Path<(String, String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let (b, h) = basehead.split_once("...").ok_or_else(ApiError::not_found)?;
        let (b, h) = (
            resolve(r, b).map_err(|_| ApiError::not_found())?,
            resolve(r, h).map_err(|_| ApiError::not_found())?,
        );
        let head_log = r.odb.first_parent_log(&h);
        let base_log = r.odb.first_parent_log(&b);
        let merge_base = head_log
            .iter()
            .find(|c| r.odb.is_ancestor(c, &b))
            .cloned()
            .unwrap_or_default();
        let ahead: Vec<String> = head_log
            .iter()
            .take_while(|c| **c != merge_base)
            .cloned()
            .collect();
        let behind = base_log.iter().take_while(|c| **c != merge_base).count();
        let status = match (ahead.is_empty(), behind == 0) {
            (true, true) => "identical",
            (false, true) => "ahead",
            (true, false) => "behind",
            (false, false) => "diverged",
        };
        let files = r.diff(Some(&merge_base), &h);
        let url = shape::repo_url(base, r);
        let html = format!("{base}/{}/compare/{basehead}", r.full_name());
        let mut commits: Vec<Value> = ahead
            .iter()
            .rev()
            .map(|c| shape::commit(base, r, c, None))
            .collect();
        commits.truncate(250);
        Ok(Json(json!({
            "url": format!("{url}/compare/{basehead}"), "html_url": html,
            "permalink_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
            "base_commit": shape::commit(base, r, &b, None),
            "merge_base_commit": shape::commit(base, r, &merge_base, None),
            "status": status, "ahead_by": ahead.len(), "behind_by": behind,
            "total_commits": ahead.len(), "commits": commits,
            "files": files.iter().map(|f| shape::diff_entry(base, r, &h, f)).collect::<Vec<_>>(),
        }))
        .into_response())
    })
}

async fn contents_root(
    state: State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    q: Params,
) -> ApiResult {
    contents(state, Path((o, n, String::new())), q).await
}

async fn contents(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, path)): Path<(String, String, String)>,
    Query(q): Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let rev = q
            .get("ref")
            .cloned()
            .unwrap_or_else(|| r.default_branch.clone());
        let oid = r.resolve(&rev).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No commit found for the ref {rev}"),
            )
        })?;
        let files = r.files_at(&oid);
        let path = path.trim_matches('/').to_string();
        let url = shape::repo_url(base, r);
        let entry = |p: &str, kind: &str, sha: &str, size: usize| {
            let name = p.rsplit('/').next().unwrap_or(p);
            json!({
                "type": kind, "size": size, "name": name, "path": p, "sha": sha,
                "url": format!("{url}/contents/{p}?ref={rev}"),
                "git_url": format!("{url}/git/{}/{sha}", if kind == "dir" { "trees" } else { "blobs" }),
                "html_url": format!("{base}/{}/blob/{rev}/{p}", r.full_name()),
                "download_url": if kind == "file" { json!(format!("{base}/{}/raw/{rev}/{p}", r.full_name())) } else { Value::Null },
                "_links": {"self": format!("{url}/contents/{p}?ref={rev}"), "git": format!("{url}/git/blobs/{sha}"),
                           "html": format!("{base}/{}/blob/{rev}/{p}", r.full_name())},
            })
        };
        if let Some((_, blob)) = files.get(&path) {
            let data = r.odb.blob(blob).unwrap_or_default();
            let mut v = entry(&path, "file", blob, data.len());
            if data.len() > 1024 * 1024 {
                // GitHub stops inlining content above 1 MB.
                v["encoding"] = json!("none");
                v["content"] = json!("");
            } else {
                let b64 = base64::engine::general_purpose::STANDARD.encode(data);
                let wrapped: Vec<String> = b64
                    .as_bytes()
                    .chunks(60)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
                v["encoding"] = json!("base64");
                v["content"] = json!(wrapped.join("\n") + "\n");
            }
            return Ok(Json(v).into_response());
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut listing: std::collections::BTreeMap<String, Value> = Default::default();
        for (p, (_, blob)) in files.range(prefix.clone()..) {
            let Some(rest) = p.strip_prefix(&prefix) else {
                break;
            };
            match rest.split_once('/') {
                Some((dir, _)) => {
                    let dp = format!("{prefix}{dir}");
                    listing
                        .entry(dp.clone())
                        .or_insert_with(|| entry(&dp, "dir", "", 0));
                }
                None => {
                    let size = r.odb.blob(blob).map(<[u8]>::len).unwrap_or(0);
                    listing.insert(p.clone(), entry(p, "file", blob, size));
                }
            }
        }
        if listing.is_empty() {
            return Err(ApiError::not_found());
        }
        Ok(Json(Value::Array(listing.into_values().collect())).into_response())
    })
}

async fn check_runs(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, rev)): Path<(String, String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let oid = resolve(r, &rev)?;
        let url = shape::repo_url(base, r);
        let runs: Vec<Value> = r
            .checks
            .get(&oid)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let id = r.id * 10_000 + i as u64 + 1;
                json!({
                    "id": id, "node_id": format!("CR_{id}"), "head_sha": oid, "external_id": "",
                    "url": format!("{url}/check-runs/{id}"), "html_url": format!("{base}/{}/runs/{id}", r.full_name()),
                    "details_url": null, "status": c.status, "conclusion": c.conclusion,
                    "started_at": shape::time(now() - 600), "completed_at": c.conclusion.as_ref().map(|_| shape::time(now() - 300)),
                    "output": {"title": c.name, "summary": null, "text": null, "annotations_count": 0,
                               "annotations_url": format!("{url}/check-runs/{id}/annotations")},
                    "name": c.name, "pull_requests": [],
                })
            })
            .collect();
        Ok(Json(json!({"total_count": runs.len(), "check_runs": runs})).into_response())
    })
}

async fn status(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, rev)): Path<(String, String, String)>,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let oid = resolve(r, &rev)?;
        let url = shape::repo_url(base, r);
        // Commit statuses are the legacy API; the emulated repositories report through checks.
        Ok(Json(json!({
            "state": "pending", "sha": oid, "total_count": 0, "statuses": [],
            "repository": shape::repository(base, r),
            "commit_url": format!("{url}/commits/{oid}"), "url": format!("{url}/commits/{oid}/status"),
        }))
        .into_response())
    })
}

async fn runs(
    State(gh): State<Arc<GitHub>>,
    Path((o, n)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let mut runs: Vec<&super::repo::WorkflowRun> = r
            .runs
            .iter()
            .filter(|w| q.get("branch").is_none_or(|b| *b == w.branch))
            .filter(|w| q.get("event").is_none_or(|e| *e == w.event))
            .filter(|w| {
                q.get("status")
                    .is_none_or(|s| *s == w.status || w.conclusion.as_ref() == Some(s))
            })
            .filter(|w| q.get("head_sha").is_none_or(|s| *s == w.head_sha))
            .collect();
        runs.sort_by_key(|w| std::cmp::Reverse(w.created_at));
        let total = runs.len();
        let (page, per_page) = page_window(&q);
        let items: Vec<Value> = runs
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|w| shape::run(base, r, w))
            .collect();
        Ok(Json(json!({"total_count": total, "workflow_runs": items})).into_response())
    })
}

/// `PATCH .../secret-scanning/alerts/{number}`: `{"state": "resolved", "resolution": ...}` or
/// `{"state": "open"}`, as GitHub takes it (422 without a valid resolution).
async fn resolve_secret_alert(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, number)): Path<(String, String, usize)>,
    Json(body): Json<Value>,
) -> ApiResult {
    const RESOLUTIONS: &[&str] = &[
        "false_positive",
        "wont_fix",
        "revoked",
        "used_in_tests",
        "pattern_edited",
        "pattern_deleted",
    ];
    with_repo(&gh, &o, &n, |r, _| {
        let alert = r
            .alerts
            .get_mut("secret-scanning")
            .and_then(|l| l.get_mut(number.checked_sub(1)?))
            .ok_or_else(ApiError::not_found)?;
        match body["state"].as_str() {
            Some("resolved") => {
                let resolution = body["resolution"].as_str().unwrap_or_default();
                if !RESOLUTIONS.contains(&resolution) {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "A valid resolution is required to resolve an alert.",
                    ));
                }
                alert["state"] = json!("resolved");
                alert["resolution"] = json!(resolution);
                alert["resolution_comment"] = body["resolution_comment"].clone();
                alert["resolved_at"] = json!(
                    jiff::Timestamp::from_second(crate::github::now())
                        .map(|t| t.to_string())
                        .unwrap_or_default()
                );
            }
            Some("open") => {
                alert["state"] = json!("open");
                alert["resolution"] = Value::Null;
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "state must be `open` or `resolved`",
                ));
            }
        }
        let mut out = alert.clone();
        out["number"] = json!(number);
        Ok(Json(out).into_response())
    })
}

async fn alerts(
    State(gh): State<Arc<GitHub>>,
    Path((o, n, kind)): Path<(String, String, String)>,
    Query(q): Params,
) -> ApiResult {
    with_repo(&gh, &o, &n, |r, base| {
        let Some(list) = r.alerts.get(&kind) else {
            return Err(match kind.as_str() {
                "dependabot" => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "Dependabot alerts are disabled for this repository.",
                ),
                "code-scanning" => ApiError::new(StatusCode::NOT_FOUND, "no analysis found"),
                "secret-scanning" => ApiError::new(
                    StatusCode::NOT_FOUND,
                    "Secret scanning is disabled on this repository.",
                ),
                _ => ApiError::not_found(),
            });
        };
        let url = shape::repo_url(base, r);
        let items: Vec<Value> = list
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut a = a.clone();
                let number = i as u64 + 1;
                a["number"] = json!(number);
                a["url"] = json!(format!("{url}/{kind}/alerts/{number}"));
                a["html_url"] = json!(format!("{base}/{}/security/{kind}/{number}", r.full_name()));
                if a.get("state").is_none() {
                    a["state"] = json!("open");
                }
                a
            })
            .filter(|a| {
                q.get("state")
                    .is_none_or(|s| a["state"].as_str() == Some(s))
            })
            .filter(|a| {
                q.get("severity").is_none_or(|s| {
                    [
                        &a["security_advisory"]["severity"],
                        &a["rule"]["security_severity_level"],
                        &a["rule"]["severity"],
                    ]
                    .iter()
                    .any(|v| v.as_str() == Some(s))
                })
            })
            .collect();
        Ok(paginate(items, &q, &format!("{url}/{kind}/alerts")))
    })
}

async fn rate_limit(State(gh): State<Arc<GitHub>>) -> Response {
    let l = lock(&gh.limits).clone();
    let core = json!({"limit": l.limit, "remaining": l.remaining, "reset": l.reset, "used": l.limit - l.remaining, "resource": "core"});
    Json(json!({"resources": {"core": core}, "rate": core})).into_response()
}

/// Headers of a created resource.
pub fn created(v: Value) -> Response {
    let mut h = HeaderMap::new();
    if let Some(Ok(loc)) = v["url"].as_str().map(HeaderValue::from_str) {
        h.insert("location", loc);
    }
    (StatusCode::CREATED, h, Json(v)).into_response()
}
