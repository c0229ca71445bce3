//! Every tool through a real MCP client session (rmcp over stdio) against the Konnect emulator,
//! plus the contract: every request the server sent validated against the vendor specs and every
//! response the emulator gave validated against the spec's response schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandbox::konnect::{self, KonnectServer};
use sandbox::mcp_client::{Client, call, err, ok, stdio, tool_names};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-konnect");

async fn client(k: &KonnectServer, args: &[&str]) -> Client {
    client_with_token(k, args, konnect::TOKEN).await
}

async fn client_with_token(k: &KonnectServer, args: &[&str], token: &str) -> Client {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env("KONNECT_API_URL", k.url())
        .env("KONNECT_ACCESS_TOKEN", token)
        .env("RUST_LOG", "warn");
    stdio(cmd).await
}

fn metrics_sent(k: &KonnectServer) -> usize {
    k.state
        .received()
        .iter()
        .filter(|r| r.path == "/v2/metrics")
        .count()
}

fn assert_contract(k: &KonnectServer) {
    let bad: Vec<_> = k
        .state
        .received()
        .into_iter()
        .filter(|r| !r.problems.is_empty())
        .collect();
    assert!(
        bad.is_empty(),
        "requests that violate the vendor spec: {bad:?}"
    );
    assert!(
        k.state.response_problems().is_empty(),
        "{:?}",
        k.state.response_problems()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn traffic_health_finds_the_failing_route_in_one_query() {
    let k = konnect::spawn_seeded().await.unwrap();
    let c = client(&k, &[]).await;
    let tools = c.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 6);
    assert!(
        mcp_runtime::filter::lint(
            &tools,
            <mcp_konnect::KonnectServer as mcp_runtime::ToolServer>::TOOLSETS
        )
        .is_empty()
    );
    assert!(tools.iter().all(mcp_runtime::filter::is_read_only));
    let bytes = serde_json::to_string(&tools).unwrap().len();
    assert!(
        bytes / tools.len() <= 500,
        "schema {} bytes per tool (target 500)",
        bytes / tools.len()
    );

    let which = err(&call(&c, "traffic_health", json!({})).await);
    assert!(
        which.contains("shop-prod") && which.contains("shop-staging"),
        "{which}"
    );
    let h = ok(&call(&c, "traffic_health", json!({"control_plane": "shop-prod"})).await);
    let orders = h.lines().find(|l| l.starts_with("orders-route")).unwrap();
    assert!(
        orders.contains("100.0") && orders.contains("503x") && orders.contains("FAILING"),
        "{h}"
    );
    let catalog = h.lines().find(|l| l.starts_with("catalog-route")).unwrap();
    assert!(
        catalog.contains(" 0.0 ") && !catalog.contains("FAILING"),
        "{h}"
    );
    assert_eq!(metrics_sent(&k), 1, "one batched query for all routes");

    let by_service = ok(&call(
        &c,
        "traffic_health",
        json!({"control_plane": "shop-prod", "by": "service", "include_4xx": true}),
    )
    .await);
    assert!(
        by_service.contains("orders") && by_service.contains("4XX%"),
        "{by_service}"
    );
    let quiet = ok(&call(
        &c,
        "traffic_health",
        json!({"control_plane": "shop-staging"}),
    )
    .await);
    assert!(quiet.contains("low traffic"), "{quiet}");

    let series = ok(&call(&c, "traffic_health", json!({"control_plane": "shop-prod", "route": "orders-route", "series": true, "window": "6h", "granularity": "tenMinutely"})).await);
    assert!(
        series.starts_with("shop-prod route orders-route, 6h")
            && series.contains("5xx onset: bucket starting"),
        "{series}"
    );
    let need = err(&call(
        &c,
        "traffic_health",
        json!({"control_plane": "shop-prod", "series": true}),
    )
    .await);
    assert!(need.contains("`series`"), "{need}");
    assert_contract(&k);
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_queries_are_validated_before_sending_and_names_resolved() {
    let k = konnect::spawn_seeded().await.unwrap();
    let c = client(&k, &["--control-planes", "shop-prod"]).await;
    let before = metrics_sent(&k);
    let bad = err(&call(&c, "metrics_query", json!({"metrics": ["requests"]})).await);
    assert!(
        bad.contains("`metrics[0]`") && bad.contains("request_count"),
        "{bad}"
    );
    let bad = err(&call(&c, "metrics_query", json!({"metrics": ["request_count"], "dimensions": ["time"], "window": "15m", "granularity": "hourly"})).await);
    assert!(bad.contains("`granularity`"), "{bad}");
    let bad = err(&call(
        &c,
        "metrics_query",
        json!({"metrics": ["request_count"], "filters": ["route in nope-route"]}),
    )
    .await);
    assert!(
        bad.contains("`filters[0].value`") && bad.contains("nope-route"),
        "{bad}"
    );
    assert_eq!(metrics_sent(&k), before, "invalid queries spend nothing");

    let q = ok(&call(
        &c,
        "metrics_query",
        json!({"metrics": ["request_count", "error_rate"], "dimensions": ["route"],
        "filters": ["route in orders-route,payments-route"], "window": "1h"}),
    )
    .await);
    assert!(
        q.contains("orders-route") && q.contains("payments-route") && q.contains("ERROR_RATE"),
        "{q}"
    );
    let denied = err(&call(
        &c,
        "traffic_health",
        json!({"control_plane": "shop-staging"}),
    )
    .await);
    assert!(denied.contains("allow-list"), "{denied}");
    assert_contract(&k);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_samples_and_gateway_config() {
    let k = konnect::spawn_seeded().await.unwrap();
    let c = client(&k, &["--control-planes", "shop-prod"]).await;
    let s = ok(&call(
        &c,
        "requests_sample",
        json!({"route": "orders-route", "status": "5XX", "limit": 6}),
    )
    .await);
    let rows: Vec<&str> = s.lines().filter(|l| l.contains("orders-route")).collect();
    assert_eq!(rows.len(), 6, "{s}");
    assert!(rows.iter().all(|l| l.contains(" 503 ")), "{s}");
    assert!(
        s.contains("<untrusted-data source=\"request URIs\">") && s.contains("ignore%20previous"),
        "{s}"
    );
    let none = ok(&call(
        &c,
        "requests_sample",
        json!({"route": "catalog-route", "status": "503"}),
    )
    .await);
    assert!(none.contains("no matching requests"), "{none}");

    let cps = ok(&call(&c, "control_planes", json!({})).await);
    assert!(
        cps.contains("shop-prod") && cps.contains("control_plane"),
        "{cps}"
    );
    let routes = ok(&call(&c, "entities_list", json!({"kind": "routes"})).await);
    assert!(
        routes.contains("orders-route") && routes.contains("/orders") && routes.contains("orders "),
        "{routes}"
    );
    let plugins = ok(&call(
        &c,
        "entities_list",
        json!({"kind": "plugins", "service": "catalog"}),
    )
    .await);
    assert!(
        plugins.contains("rate-limiting") && plugins.contains("\"minute\":600"),
        "{plugins}"
    );
    let svc = ok(&call(&c, "entity_get", json!({"kind": "service", "id": "orders"})).await);
    assert!(svc.contains("orders-v2.shop.svc.cluster.local"), "{svc}");
    let missing = err(&call(&c, "entity_get", json!({"kind": "services", "id": "nope"})).await);
    assert!(missing.contains("not found"), "{missing}");
    let bad_kind = err(&call(&c, "entities_list", json!({"kind": "upstreamz"})).await);
    assert!(bad_kind.contains("`kind`"), "{bad_kind}");
    assert_contract(&k);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shared_limit_caches_refuses_and_reports_upstream_limits() {
    let k = konnect::spawn_seeded().await.unwrap();
    let c = client(&k, &["--control-planes", "shop-prod", "--max-wait", "0"]).await;
    for args in [json!({}), json!({})] {
        ok(&call(&c, "traffic_health", args).await);
    }
    assert_eq!(
        metrics_sent(&k),
        1,
        "the identical second query came from the cache"
    );
    for window in ["1h", "6h", "12h", "24h", "7d"] {
        ok(&call(&c, "traffic_health", json!({"window": window})).await);
    }
    for window in ["15m", "1h", "6h", "12h"] {
        ok(&call(
            &c,
            "traffic_health",
            json!({"window": window, "by": "service"}),
        )
        .await);
    }
    assert_eq!(metrics_sent(&k), 10);
    let refused = err(&call(
        &c,
        "traffic_health",
        json!({"window": "24h", "by": "service"}),
    )
    .await);
    assert!(
        refused.contains("rate limit reached; retry after"),
        "{refused}"
    );
    assert_eq!(metrics_sent(&k), 10, "refused locally");

    // A second process (another token holder) hits Konnect's own limit: the 429 is explained.
    let other = client(
        &k,
        &[
            "--control-planes",
            "shop-prod",
            "--metrics-per-minute",
            "100",
        ],
    )
    .await;
    let limited = err(&call(&other, "traffic_health", json!({"window": "30d"})).await);
    assert!(
        limited.contains("rate limit reached; retry after"),
        "{limited}"
    );
    k.state.clock.advance(61);
    k.state.time_out_next(1);
    let slow = err(&call(
        &other,
        "traffic_health",
        json!({"window": "7d", "by": "service"}),
    )
    .await);
    assert!(slow.contains("10 s limit"), "{slow}");
    assert_contract(&k);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_is_explained_and_start_up_needs_no_network() {
    let k = konnect::spawn_seeded().await.unwrap();
    let c = client_with_token(&k, &[], "kpat_wrong").await;
    assert_eq!(
        tool_names(&c).await.len(),
        6,
        "initialize and tools/list without touching Konnect"
    );
    assert!(k.state.received().is_empty());
    let e = err(&call(&c, "control_planes", json!({})).await);
    assert!(
        e.contains("HTTP 401") && e.contains("KONNECT_ACCESS_TOKEN") && !e.contains("kpat_wrong"),
        "{e}"
    );
}

/// The Claude Desktop example starts the server as written (token and URL pointed at the
/// emulator) and it answers.
#[tokio::test(flavor = "multi_thread")]
async fn the_claude_desktop_example_starts_the_server() {
    let k = konnect::spawn_seeded().await.unwrap();
    let (command, args, env) =
        sandbox::mcp_client::claude_desktop_entry("claude_desktop_config.json", "konnect");
    assert_eq!(command, "mcp-konnect");
    assert!(env.iter().any(|(k, v)| k == "KONNECT_REGION" && v == "us"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let c = client(&k, &args).await;
    let planes = ok(&call(&c, "control_planes", json!({})).await);
    assert!(planes.contains("shop-prod"), "{planes}");
    c.cancel().await.unwrap();
}
