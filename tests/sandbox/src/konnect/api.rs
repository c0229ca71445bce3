//! Routing, auth, request validation against the vendor specs, the metrics rate limit, query
//! timeouts, and the control-plane endpoints.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonschema::Validator;
use serde_json::{Value, json};

use super::spec::{self, Invalid, Spec, SpecError, pointer_path};
use super::{Konnect, Received, TOKEN, entities, lock, metrics, requests};

/// Konnect's limit on `/v2/metrics`.
const METRICS_PER_MINUTE: usize = 10;

/// Request and response validators compiled from the vendor specs.
pub struct Contracts {
    metrics_req: Validator,
    metrics_resp: Validator,
    requests_req: Validator,
    requests_resp: Validator,
    cp_list: Validator,
    cp_get: Validator,
    lists: HashMap<&'static str, Validator>,
}

fn list_pointer(kind: &str) -> String {
    format!(
        "/paths/{}/get/responses/200/content/application~1json/schema",
        pointer_path(&format!(
            "/control-planes/{{controlPlaneId}}/core-entities/{kind}"
        ))
    )
}

impl Contracts {
    /// Compiles every validator (fails fast when a spec changes shape).
    pub fn load() -> Result<Self, SpecError> {
        let m = Spec::load("analytics-metrics-v2.openapi.yaml")?;
        let r = Spec::load("analytics-requests-v2.openapi.yaml")?;
        let cp = Spec::load("control-planes-v2.openapi.yaml")?;
        let cfg = Spec::load("control-planes-config-v2.openapi.yaml")?;
        let mut lists = HashMap::new();
        for kind in ["services", "routes", "plugins", "consumers"] {
            lists.insert(kind, cfg.validator(&list_pointer(kind))?);
        }
        Ok(Self {
            // The discriminator picks the schema: the emulator serves the `api_usage` datasource
            // and the non-deprecated filter-by-field request query.
            metrics_req: m.validator("/components/schemas/MetricsApiUsageQuery")?,
            metrics_resp: m.validator("/components/schemas/MetricsResultV2")?,
            requests_req: r.validator("/components/schemas/AnalyticsRequestsFilterByFieldQuery")?,
            requests_resp: r.validator(
                "/components/responses/AnalyticsRequestsResponse/content/application~1json/schema",
            )?,
            cp_list: cp.validator(
                "/components/responses/ListControlPlanesResponse/content/application~1json/schema",
            )?,
            cp_get: cp.validator("/components/schemas/ControlPlane")?,
            lists,
        })
    }
}

/// An `application/problem+json` error.
fn problem(status: StatusCode, detail: impl Into<String>, invalid: &[Invalid]) -> Response {
    let mut body = json!({
        "status": status.as_u16(), "title": status.canonical_reason().unwrap_or("Error"),
        "instance": format!("kong:trace:{}", jiff::Timestamp::now().as_nanosecond() % 10_000_000_000_000),
        "detail": detail.into(),
    });
    if !invalid.is_empty() {
        body["title"] = json!("Invalid Request");
        body["invalid_parameters"] = Value::Array(invalid.iter().map(Invalid::to_json).collect());
    }
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

pub fn router(state: Arc<Konnect>) -> Router {
    Router::new()
        .route("/v2/metrics", post(metrics_query))
        .route("/v2/api-requests", post(requests_query))
        .route("/v2/control-planes", get(control_planes))
        .route("/v2/control-planes/{cp}", get(control_plane))
        .route(
            "/v2/control-planes/{cp}/core-entities/{kind}",
            get(entity_list),
        )
        .route(
            "/v2/control-planes/{cp}/core-entities/{kind}/{id}",
            get(entity_get),
        )
        .route(
            "/v2/control-planes/{cp}/core-entities/{kind}/{id}/{child}",
            get(entity_children),
        )
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "Not found", &[]) })
        .layer(middleware::from_fn(auth))
        .with_state(state)
}

async fn auth(req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == TOKEN);
    if !ok {
        return problem(StatusCode::UNAUTHORIZED, "Invalid credentials", &[]);
    }
    next.run(req).await
}

fn query_id() -> String {
    format!("{:032x}", jiff::Timestamp::now().as_nanosecond())
}

fn record(k: &Konnect, path: &str, body: &Value, problems: &[Invalid]) {
    lock(&k.received).push(Received {
        method: "POST".into(),
        path: path.into(),
        body: body.clone(),
        problems: problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.reason))
            .collect(),
    });
}

fn self_check(k: &Konnect, what: &str, v: &Validator, body: &Value) {
    let problems = spec::check(v, body);
    if !problems.is_empty() {
        lock(&k.response_problems).extend(
            problems
                .into_iter()
                .map(|p| format!("{what} {}: {}", p.field, p.reason)),
        );
    }
}

fn parse(bytes: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| {
        Box::new(problem(
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON body: {e}"),
            &[],
        ))
    })
}

/// Top-level keys the schema does not declare; Konnect rejects them as `unknown_property`.
fn unknown_keys(body: &Value, known: &[&str]) -> Vec<Invalid> {
    body.as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !known.contains(&k.as_str()))
                .map(|k| Invalid {
                    field: k.clone(),
                    rule: "unknown_property".into(),
                    reason: format!("property {k} should not exist"),
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn metrics_query(State(k): State<Arc<Konnect>>, bytes: Bytes) -> Response {
    let body = match parse(&bytes) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    if body.get("datasource").is_some_and(|d| d != "api_usage") {
        record(&k, "/v2/metrics", &body, &[]);
        return problem(
            StatusCode::BAD_REQUEST,
            "the sandbox emulator serves the api_usage datasource only",
            &[],
        );
    }
    let mut invalid = unknown_keys(
        &body,
        &[
            "datasource",
            "metrics",
            "dimensions",
            "filters",
            "granularity",
            "time_range",
            "limit",
        ],
    );
    invalid.extend(spec::check(&k.contracts.metrics_req, &body));
    record(&k, "/v2/metrics", &body, &invalid);
    if !invalid.is_empty() {
        return problem(StatusCode::BAD_REQUEST, "Invalid Parameters", &invalid);
    }
    let now = k.clock.now();
    {
        let mut calls = lock(&k.metrics_calls);
        calls.retain(|t| *t > now - 60);
        if calls.len() >= METRICS_PER_MINUTE {
            let retry = (calls[0] + 60 - now).max(1);
            let mut resp = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "API rate limit exceeded: 10 requests per minute",
                &[],
            );
            if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        calls.push(now);
    }
    if take_timeout(&k) {
        return problem(
            StatusCode::REQUEST_TIMEOUT,
            "The query took longer than 10 seconds. Add filters or reduce the time range.",
            &[],
        );
    }
    match metrics::query(&k.scenario, &body, now, &query_id()) {
        Ok(v) => {
            self_check(&k, "metrics", &k.contracts.metrics_resp, &v);
            Json(v).into_response()
        }
        Err(invalid) => problem(StatusCode::BAD_REQUEST, "Invalid Parameters", &invalid),
    }
}

fn take_timeout(k: &Konnect) -> bool {
    let mut t = lock(&k.timeouts);
    if *t > 0 {
        *t -= 1;
        return true;
    }
    false
}

async fn requests_query(State(k): State<Arc<Konnect>>, bytes: Bytes) -> Response {
    let body = match parse(&bytes) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let invalid = spec::check(&k.contracts.requests_req, &body);
    record(&k, "/v2/api-requests", &body, &invalid);
    if !invalid.is_empty() {
        return problem(StatusCode::BAD_REQUEST, "Invalid Parameters", &invalid);
    }
    if take_timeout(&k) {
        return problem(
            StatusCode::REQUEST_TIMEOUT,
            "The query took longer than 10 seconds. Add filters or reduce the time range.",
            &[],
        );
    }
    match requests::query(&k.scenario, &body, k.clock.now(), &query_id()) {
        Ok(v) => {
            self_check(&k, "api-requests", &k.contracts.requests_resp, &v);
            Json(v).into_response()
        }
        Err(invalid) => problem(StatusCode::BAD_REQUEST, "Invalid Parameters", &invalid),
    }
}

async fn control_planes(
    State(k): State<Arc<Konnect>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let size: usize = q
        .get("page[size]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let number: usize = q
        .get("page[number]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let all: Vec<&super::scenario::ControlPlane> = k
        .scenario
        .file
        .control_planes
        .iter()
        .filter(|c| q.get("filter[name][eq]").is_none_or(|n| *n == c.name))
        .filter(|c| {
            q.get("filter[name][contains]")
                .is_none_or(|n| c.name.contains(n.as_str()))
        })
        .filter(|c| q.get("filter[id][eq]").is_none_or(|n| *n == c.id))
        .collect();
    let data: Vec<Value> = all
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .map(|c| entities::control_plane(c))
        .collect();
    let v = json!({"meta": {"page": {"number": number, "size": size, "total": all.len()}}, "data": data});
    self_check(&k, "control-planes", &k.contracts.cp_list, &v);
    Json(v).into_response()
}

async fn control_plane(State(k): State<Arc<Konnect>>, Path(cp): Path<String>) -> Response {
    match k.scenario.control_plane(&cp) {
        Some(c) => {
            let v = entities::control_plane(c);
            self_check(&k, "control-plane", &k.contracts.cp_get, &v);
            Json(v).into_response()
        }
        None => problem(
            StatusCode::NOT_FOUND,
            format!("control plane {cp} not found"),
            &[],
        ),
    }
}

fn page(
    k: &Konnect,
    kind: &str,
    items: Vec<Value>,
    q: &HashMap<String, String>,
    base: &str,
) -> Response {
    let items: Vec<Value> = items
        .into_iter()
        .filter(|e| {
            let name = e["name"].as_str().or(e["username"].as_str()).unwrap_or("");
            q.get("filter[name][eq]").is_none_or(|n| n == name)
                && q.get("filter[name][contains]")
                    .is_none_or(|n| name.contains(n.as_str()))
                && q.get("tags").is_none_or(|t| {
                    t.split(',').all(|tag| {
                        e["tags"]
                            .as_array()
                            .is_some_and(|ts| ts.iter().any(|x| x == tag))
                    })
                })
        })
        .collect();
    let size: usize = q
        .get("size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let start: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let more = start + size < items.len();
    let data: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    // The spec types `next` as a string: the last page omits it rather than sending null.
    let mut v = json!({"data": data});
    if more {
        let offset = (start + size).to_string();
        v["next"] = json!(format!("{base}?offset={offset}&size={size}"));
        v["offset"] = json!(offset);
    }
    if let Some(val) = k.contracts.lists.get(kind) {
        self_check(k, kind, val, &v);
    }
    Json(v).into_response()
}

async fn entity_list(
    State(k): State<Arc<Konnect>>,
    Path((cp, kind)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if k.scenario.control_plane(&cp).is_none() {
        return problem(
            StatusCode::NOT_FOUND,
            format!("control plane {cp} not found"),
            &[],
        );
    }
    match entities::list(&k.scenario, &cp, &kind, None) {
        Some(items) => page(
            &k,
            &kind,
            items,
            &q,
            &format!("/v2/control-planes/{cp}/core-entities/{kind}"),
        ),
        None => problem(
            StatusCode::NOT_FOUND,
            format!("{kind} is not served by the sandbox emulator"),
            &[],
        ),
    }
}

async fn entity_get(
    State(k): State<Arc<Konnect>>,
    Path((cp, kind, id)): Path<(String, String, String)>,
) -> Response {
    let found = entities::list(&k.scenario, &cp, &kind, None).and_then(|items| {
        items.into_iter().find(|e| {
            e["id"] == id.as_str() || e["name"] == id.as_str() || e["username"] == id.as_str()
        })
    });
    match found {
        Some(v) => Json(v).into_response(),
        None => problem(StatusCode::NOT_FOUND, "Not found", &[]),
    }
}

async fn entity_children(
    State(k): State<Arc<Konnect>>,
    Path((cp, kind, id, child)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match entities::list(&k.scenario, &cp, &child, Some((&kind, &id))) {
        Some(items) => page(
            &k,
            &child,
            items,
            &q,
            &format!("/v2/control-planes/{cp}/core-entities/{kind}/{id}/{child}"),
        ),
        None => problem(StatusCode::NOT_FOUND, "Not found", &[]),
    }
}
