//! The HTTP surface: discovery, CRUD, list, watch, patch, status, pod logs, bearer identities.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::approval::Identity;
use super::selector::Selector;
use super::status::ApiError;
use super::store::{Change, Cluster, ListQuery};
use super::types::ResourceType;

/// Shared state of the emulator's HTTP server.
#[derive(Clone)]
pub struct KubeState {
    pub cluster: Arc<Cluster>,
    /// Bearer token -> identity.
    pub tokens: Arc<HashMap<String, Identity>>,
}

/// The API server's router.
pub fn router(state: KubeState) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/api", get(api_versions))
        .route("/apis", get(api_groups))
        .route("/api/{*rest}", any(core_resource))
        .route("/apis/{*rest}", any(group_resource))
        .with_state(state)
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0-sandbox",
        "platform": "linux/amd64", "goVersion": "go1.25", "compiler": "gc"}),
    )
}

async fn api_versions(State(s): State<KubeState>, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&s, &headers) {
        return e.into_response();
    }
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
    )
}

async fn api_groups(State(s): State<KubeState>, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&s, &headers) {
        return e.into_response();
    }
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in s
        .cluster
        .types()
        .into_iter()
        .filter(|t| !t.group.is_empty())
    {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) if !versions.contains(&t.version) => versions.push(t.version),
            Some(_) => {}
            None => groups.push((t.group, vec![t.version])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(name, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                .collect();
            json!({"name": name, "versions": vs, "preferredVersion": vs[0]})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

fn authenticate(s: &KubeState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    s.tokens
        .get(token.trim())
        .cloned()
        .ok_or_else(ApiError::unauthorized)
}

struct Request {
    method: Method,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
}

/// `/api/v1/...`: the core group.
async fn core_resource(
    State(s): State<KubeState>,
    Path(rest): Path<String>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Request {
        method,
        query,
        headers,
        body,
    };
    route(&s, true, &rest, req).await
}

/// `/apis/{group}/{version}/...`: named groups.
async fn group_resource(
    State(s): State<KubeState>,
    Path(rest): Path<String>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Request {
        method,
        query,
        headers,
        body,
    };
    route(&s, false, &rest, req).await
}

/// Splits `[group/]version/tail...` (no group segment for the core API) and dispatches.
async fn route(s: &KubeState, core: bool, path: &str, req: Request) -> Response {
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    if core {
        segs.insert(0, String::new());
    }
    if segs.len() < 2 {
        return ApiError::not_found("path", path).into_response();
    }
    handle(s, &segs[0], &segs[1], &segs[2..], req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle(
    s: &KubeState,
    group: &str,
    version: &str,
    tail: &[String],
    req: Request,
) -> Result<Response, ApiError> {
    let user = authenticate(s, &req.headers)?;
    let cluster = &s.cluster;
    if tail.is_empty() {
        let resources: Vec<Value> = cluster
            .types()
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .flat_map(ResourceType::discovery)
            .collect();
        if resources.is_empty() {
            return Err(ApiError::not_found(
                "groupversion",
                &format!("{group}/{version}"),
            ));
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        return Ok(json_response(
            StatusCode::OK,
            &json!({"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": gv, "resources": resources}),
        ));
    }
    // `namespaces/{ns}/{plural}/...` unless it is the namespace object itself.
    let (ns, rest) = if tail.len() >= 3
        && tail[0] == "namespaces"
        && cluster.resolve(group, version, &tail[2]).is_some()
    {
        (Some(tail[1].as_str()), &tail[2..])
    } else {
        (None, tail)
    };
    let rt = cluster.resolve(group, version, &rest[0]).ok_or_else(|| {
        ApiError::not_found("resource", &format!("{group}/{version}/{}", rest[0]))
    })?;
    let name = rest.get(1).map(String::as_str);
    let sub = rest.get(2).map(String::as_str);
    let ns_or_default = ns.unwrap_or("");
    let verb = match (&req.method, name) {
        (&Method::GET, None) if is_true(req.query.get("watch")) => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, None) => "deletecollection",
        (&Method::DELETE, Some(_)) => "delete",
        _ => "unknown",
    };
    cluster.record_access(super::store::Access {
        user: user.username.clone(),
        verb: verb.to_string(),
        group: group.to_string(),
        resource: match sub {
            Some(s) => format!("{}/{s}", rt.plural),
            None => rt.plural.clone(),
        },
        namespace: ns_or_default.to_string(),
    });
    if rt.namespaced && name.is_some() && ns.is_none() {
        return Err(ApiError::not_found(&rt.plural, name.unwrap_or_default()));
    }
    match (&req.method, name, sub) {
        (&Method::POST, None, _) if rt.plural == "selfsubjectreviews" => Ok(json_response(
            StatusCode::CREATED,
            &json!({
            "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
            "status": {"userInfo": {"username": user.username, "groups": user.groups}}}),
        )),
        (&Method::GET, None, _) if is_true(req.query.get("watch")) => {
            watch(cluster.clone(), rt, ns, &req.query)
        }
        (&Method::GET, None, _) => list(cluster, &rt, ns, &req.query),
        (&Method::POST, None, _) => {
            let obj = parse_body(&req.headers, &req.body)?;
            if rt.namespaced && ns.is_none() {
                return Err(ApiError::bad_request(
                    "a namespace is required to create this resource",
                ));
            }
            let created = cluster.create(&rt, ns_or_default, obj)?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        (&Method::GET, Some(pod), Some("log")) if rt.plural == "pods" => {
            pod_log(cluster, ns_or_default, pod, &req.query)
        }
        (&Method::GET, Some(n), None | Some("status")) => Ok(json_response(
            StatusCode::OK,
            &cluster.get(&rt, ns_or_default, n)?,
        )),
        (&Method::PUT, Some(n), sub @ (None | Some("status"))) => {
            let obj = parse_body(&req.headers, &req.body)?;
            let updated = cluster.replace(&rt, ns_or_default, n, obj, sub.is_some(), &user)?;
            Ok(json_response(StatusCode::OK, &updated))
        }
        (&Method::PATCH, Some(n), sub @ (None | Some("status"))) => {
            let content_type = req
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            let body = req.body.clone();
            if let Some(e) = cluster.take_patch_failure(&rt.plural, n) {
                return Err(e);
            }
            cluster.run_patch_hooks(&rt.plural, n);
            let updated =
                cluster.update_with(&rt, ns_or_default, n, sub.is_some(), &user, |old| {
                    apply_patch(old, &content_type, &body)
                })?;
            Ok(json_response(StatusCode::OK, &updated))
        }
        (&Method::DELETE, Some(n), None) => Ok(json_response(
            StatusCode::OK,
            &cluster.delete(&rt, ns_or_default, n)?,
        )),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn is_true(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("true" | "1"))
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.contains("protobuf") {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "the sandbox accepts JSON bodies only, not protobuf",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// Applies a JSON Patch, a JSON merge patch, or a strategic merge patch (treated as a merge
/// patch: lists are replaced, not merged by key).
fn apply_patch(old: &Value, content_type: &str, body: &Bytes) -> Result<Value, ApiError> {
    let mut doc = old.clone();
    match content_type {
        "application/json-patch+json" => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON Patch: {e}")))?;
            json_patch::patch(&mut doc, &patch).map_err(|e| {
                ApiError::invalid(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid merge patch: {e}")))?;
            json_patch::merge(&mut doc, &patch);
        }
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {other:?})"
                ),
            ));
        }
    }
    Ok(doc)
}

fn query_of(ns: Option<&str>, q: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let labels = Selector::labels(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let fields = Selector::fields(q.get("fieldSelector").map(String::as_str).unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("invalid field selector: {e}")))?;
    let limit = match q.get("limit") {
        Some(l) => Some(
            l.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l}")))?,
        ),
        None => None,
    };
    Ok(ListQuery {
        namespace: ns.map(str::to_string),
        labels,
        fields,
        limit,
        continue_token: q.get("continue").filter(|c| !c.is_empty()).cloned(),
    })
}

fn list(
    cluster: &Cluster,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (items, rv, next) = cluster.list(rt, &query_of(ns, q)?)?;
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = next {
        meta["continue"] = json!(c);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(), "metadata": meta, "items": items}),
    ))
}

fn pod_log(
    cluster: &Cluster,
    ns: &str,
    pod: &str,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let text = cluster.log(
        ns,
        pod,
        q.get("container").map(String::as_str),
        is_true(q.get("previous")),
    )?;
    let since = match q.get("sinceSeconds") {
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| ApiError::bad_request("invalid sinceSeconds"))?,
        ),
        None => None,
    };
    let cutoff = since.map(|s| jiff::Timestamp::now().as_second() - s);
    let timestamps = is_true(q.get("timestamps"));
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let (stamp, rest) = match line.split_once(' ') {
            Some((ts, rest)) => match ts.parse::<jiff::Timestamp>() {
                Ok(t) => (Some(t), rest),
                Err(_) => (None, line),
            },
            None => (None, line),
        };
        if let (Some(cut), Some(t)) = (cutoff, stamp)
            && t.as_second() < cut
        {
            continue;
        }
        lines.push(if timestamps {
            line.to_string()
        } else {
            rest.to_string()
        });
    }
    if let Some(n) = q.get("tailLines") {
        let n: usize = n
            .parse()
            .map_err(|_| ApiError::bad_request("invalid tailLines"))?;
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if let Some(limit) = q.get("limitBytes") {
        let limit: usize = limit
            .parse()
            .map_err(|_| ApiError::bad_request("invalid limitBytes"))?;
        let mut end = limit.min(out.len());
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], out).into_response())
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn watch(
    cluster: Arc<Cluster>,
    rt: ResourceType,
    ns: Option<&str>,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let query = query_of(ns, q)?;
    let bookmarks = is_true(q.get("allowWatchBookmarks"));
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let from = q
        .get("resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0");
    let from: Option<u64> = match from {
        Some(v) => Some(
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v}")))?,
        ),
        None => None,
    };
    let matches = {
        let rt = rt.clone();
        let query = query.clone();
        move |c: &Change| {
            c.group == rt.group
                && c.plural == rt.plural
                && query.namespace.as_ref().is_none_or(|n| *n == c.namespace)
                && query.labels.matches_labels(&c.object)
                && query.fields.matches_fields(&c.object)
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut live = cluster.subscribe();
    let mut initial = Vec::new();
    let mut last = cluster.resource_version();
    match from {
        Some(rv) if rv < cluster.oldest_resumable() => {
            let status = ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                cluster.oldest_resumable()
            ));
            initial.push(event_line("ERROR", &status.to_status()));
            last = u64::MAX;
        }
        Some(rv) => {
            for c in cluster.changes_since(rv).into_iter().filter(|c| matches(c)) {
                initial.push(event_line(c.event, &c.object));
            }
        }
        None => {
            let (items, rv, _) = cluster.list(
                &rt,
                &ListQuery {
                    limit: None,
                    continue_token: None,
                    ..query.clone()
                },
            )?;
            last = rv;
            for item in items {
                initial.push(event_line("ADDED", &item));
            }
        }
    }
    let bookmark = {
        let rt = rt.clone();
        let cluster = cluster.clone();
        move || {
            event_line(
                "BOOKMARK",
                &json!({"kind": rt.kind, "apiVersion": rt.api_version(),
            "metadata": {"resourceVersion": cluster.resource_version().to_string()}}),
            )
        }
    };
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        if last == u64::MAX {
            return;
        }
        if bookmarks && tx.send(bookmark()).await.is_err() {
            return;
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tick.tick(), if bookmarks => {
                    if tx.send(bookmark()).await.is_err() { return; }
                }
                change = live.recv() => match change {
                    Ok(c) if c.rv > last && matches(&c) => {
                        last = c.rv;
                        if tx.send(event_line(c.event, &c.object)).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let status = ApiError::gone("watch fell too far behind");
                        let _ = tx.send(event_line("ERROR", &status.to_status())).await;
                        return;
                    }
                    Err(_) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
