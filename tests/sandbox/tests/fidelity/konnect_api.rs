//! Fidelity of the Konnect emulator: requests validated against the vendor specs, responses
//! that validate against the spec's response schemas, metrics consistent with request records
//! and with the scenario, limits and errors as Konnect documents them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandbox::konnect::{self, KonnectServer, TOKEN};
use serde_json::{Value, json};

const CP: &str = "6c1a2f3e-0b4d-4c5e-9f60-7a8b9c0d1e2f";
const ORDERS: &str = "2a3b4c5d-0001-4000-8000-000000000001";

async fn post(k: &KonnectServer, path: &str, body: Value) -> (u16, Value, String) {
    raw(k, "POST", path, Some(body), TOKEN).await
}

async fn get(k: &KonnectServer, path: &str) -> (u16, Value, String) {
    raw(k, "GET", path, None, TOKEN).await
}

/// Status, JSON body and the raw header block of a request over plain HTTP/1.1.
async fn raw(
    k: &KonnectServer,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: &str,
) -> (u16, Value, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(k.addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        k.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let (head, rest) = buf.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let json = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        while let Some((len, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            r = &tail[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    (
        status,
        serde_json::from_str(&json).unwrap_or(Value::Null),
        head.to_ascii_lowercase(),
    )
}

#[tokio::test]
async fn metrics_show_the_scenarios_failure_and_agree_with_request_records() {
    let k = konnect::spawn_seeded().await.unwrap();
    let (status, v, _) = post(
        &k,
        "/v2/metrics",
        json!({
        "metrics": ["request_count"], "dimensions": ["route", "status_code_grouped"],
        "time_range": {"type": "relative", "time_range": "15m"},
        "filters": [{"field": "control_plane", "operator": "in", "value": [CP]}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let scoped = format!("{CP}:{ORDERS}");
    let rows: Vec<&Value> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"]["route"] == scoped.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "orders-route only fails: {rows:?}");
    assert_eq!(rows[0]["event"]["status_code_grouped"], "5XX");
    let failing = rows[0]["event"]["request_count"].as_u64().unwrap();
    assert!(
        (1500..=2100).contains(&failing),
        "about 120 rpm for 15 minutes: {failing}"
    );
    assert_eq!(
        v["meta"]["display"]["route"][&scoped]["name"],
        "orders-route"
    );
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["event"]["status_code_grouped"] == "4XX")
    );

    let (status, recs, _) = post(
        &k,
        "/v2/api-requests",
        json!({
        "time_range": {"type": "relative", "time_range": "15M"}, "size": 50,
        "filters": [{"field": "route", "operator": "in", "value": [scoped]}]}),
    )
    .await;
    assert_eq!(status, 200, "{recs}");
    let results = recs["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|r| r["response_http_status"] == "503"),
        "{results:?}"
    );

    // Before the deploy the route was healthy.
    let start = jiff::Timestamp::from_second(k.state.clock.now() - 4 * 3600)
        .unwrap()
        .to_string();
    let end = jiff::Timestamp::from_second(k.state.clock.now() - 3 * 3600)
        .unwrap()
        .to_string();
    let (_, before, _) = post(
        &k,
        "/v2/metrics",
        json!({
        "metrics": ["request_count", "error_rate"], "dimensions": ["route"],
        "time_range": {"type": "absolute", "start": start, "end": end},
        "filters": [{"field": "route", "operator": "in", "value": [scoped]}]}),
    )
    .await;
    let rate = before["data"][0]["event"]["error_rate"].as_f64().unwrap();
    assert!(rate < 5.0, "{before}");
    let (_, series, _) = post(&k, "/v2/metrics", json!({
        "metrics": ["request_count"], "dimensions": ["time", "status_code_grouped"], "granularity": "tenMinutely",
        "time_range": {"type": "relative", "time_range": "6h"},
        "filters": [{"field": "route", "operator": "in", "value": [scoped]}]})).await;
    assert_eq!(series["meta"]["granularity_ms"], 600_000);
    let first_5xx = series["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"]["status_code_grouped"] == "5XX")
        .unwrap();
    let onset: jiff::Timestamp = first_5xx["timestamp"].as_str().unwrap().parse().unwrap();
    let ago = k.state.clock.now() - onset.as_second();
    // The event starts 123 min before the scenario loaded; the first failing minute can begin up
    // to a minute later, and its 10-minute bucket up to 10 minutes earlier; the test itself
    // takes a few seconds.
    assert!(
        (122 * 60 - 30..=133 * 60 + 30).contains(&ago),
        "errors start at the scenario's event: {ago}s ago"
    );
    assert!(
        k.state.response_problems().is_empty(),
        "{:?}",
        k.state.response_problems()
    );
    assert!(k.state.received().iter().all(|r| r.problems.is_empty()));
}

#[tokio::test]
async fn invalid_queries_get_problem_json_naming_the_field() {
    let k = konnect::spawn_seeded().await.unwrap();
    let (status, v, head) = post(&k, "/v2/metrics", json!({
        "metrics": ["requests"], "dimensions": ["route"], "time_range": {"type": "relative", "time_range": "2h"}, "extra": 1})).await;
    assert_eq!(status, 400);
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    let fields: Vec<&str> = v["invalid_parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"metrics.0") && fields.contains(&"extra"),
        "{v}"
    );
    assert!(v["instance"].as_str().unwrap().starts_with("kong:trace:"));
    let (status, v, _) = post(
        &k,
        "/v2/metrics",
        json!({"metrics": ["request_count"], "dimensions": ["time"],
        "granularity": "daily", "time_range": {"type": "relative", "time_range": "15m"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["invalid_parameters"][0]["field"], "granularity", "{v}");
    let (status, _, _) = post(
        &k,
        "/v2/metrics",
        json!({"metrics": ["request_count"],
        "filters": [{"field": "route", "operator": "in", "value": [ORDERS]}]}),
    )
    .await;
    assert_eq!(status, 400, "route filters need scoped ids");
    let (status, _, _) = raw(
        &k,
        "POST",
        "/v2/metrics",
        Some(json!({"metrics": ["request_count"]})),
        "kpat_wrong",
    )
    .await;
    assert_eq!(status, 401);
    // Spec violations (bad metric and extra key, unscoped route id); the granularity is valid
    // per the schema and refused by the range rules.
    assert_eq!(
        k.state
            .received()
            .iter()
            .filter(|r| !r.problems.is_empty())
            .count(),
        2
    );
}

#[tokio::test]
async fn the_metrics_limit_is_ten_per_minute_and_timeouts_are_408() {
    let k = konnect::spawn_seeded().await.unwrap();
    let q = json!({"metrics": ["request_count"]});
    for _ in 0..10 {
        assert_eq!(post(&k, "/v2/metrics", q.clone()).await.0, 200);
    }
    let (status, _, head) = post(&k, "/v2/metrics", q.clone()).await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: "), "{head}");
    k.state.clock.advance(61);
    k.state.time_out_next(1);
    assert_eq!(post(&k, "/v2/metrics", q.clone()).await.0, 408);
    assert_eq!(post(&k, "/v2/metrics", q).await.0, 200);
}

#[tokio::test]
async fn control_planes_and_entities_validate_against_the_spec() {
    let k = konnect::spawn_seeded().await.unwrap();
    let (status, v, _) = get(&k, "/v2/control-planes?filter[name][eq]=shop-prod").await;
    assert_eq!(status, 200);
    assert_eq!(v["meta"]["page"]["total"], 1);
    let (_, one, _) = get(&k, &format!("/v2/control-planes/{CP}")).await;
    assert_eq!(one["name"], "shop-prod", "a single object is not wrapped");
    let (_, routes, _) = get(
        &k,
        &format!("/v2/control-planes/{CP}/core-entities/routes?size=2"),
    )
    .await;
    assert_eq!(routes["data"].as_array().unwrap().len(), 2);
    assert_eq!(routes["offset"], "2");
    let (_, rest, _) = get(
        &k,
        &format!("/v2/control-planes/{CP}/core-entities/routes?size=2&offset=2"),
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest.get("next").is_none());
    let (_, plugins, _) = get(
        &k,
        &format!("/v2/control-planes/{CP}/core-entities/services/catalog/plugins"),
    )
    .await;
    assert_eq!(plugins["data"][0]["name"], "rate-limiting");
    for kind in ["services", "plugins", "consumers"] {
        let (status, _, _) =
            get(&k, &format!("/v2/control-planes/{CP}/core-entities/{kind}")).await;
        assert_eq!(status, 200);
    }
    let (status, v, _) = get(
        &k,
        "/v2/control-planes/00000000-0000-4000-8000-000000000000",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(v["status"], 404);
    assert!(
        k.state.response_problems().is_empty(),
        "{:?}",
        k.state.response_problems()
    );
}
