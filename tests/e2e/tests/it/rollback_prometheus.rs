//! The rollback flow with Kong's Prometheus metrics as its signal (`source: prometheus`),
//! against the real Prometheus: it scrapes a Kong-style exporter the test drives every
//! second; a deploy that makes orders-route answer 503 is detected from
//! `kong_http_requests_total` and reverted, exactly as from Konnect analytics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_host::clock::SystemClock;
use agent_host::rollback::schedule;
use agent_host::rollback::signal::{PromSignal, Source};
use agent_host::rollback::state::StateFile;
use e2e::rollback::{World, terminate_orders};
use mcp_prometheus::client::{Auth, Upstream};
use mcp_runtime::ServerArgs;
use sandbox::prometheus::{Counters, exporter, start};

/// Adds `per_tick` requests with `code` to orders every 100 ms until `stop` is set.
fn traffic(counters: Counters, code: Arc<Mutex<u16>>, stop: Arc<Mutex<bool>>) {
    tokio::spawn(async move {
        while !*stop.lock().unwrap() {
            let c = *code.lock().unwrap();
            {
                let mut all = counters.lock().unwrap();
                match all.iter_mut().find(|(_, _, k, _)| *k == c) {
                    Some(row) => row.3 += 10,
                    None => all.push(("shop", "orders", c, 10)),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// The rollback world with mcp-prometheus over the real Prometheus scraping `counters`.
async fn world(counters: Counters) -> (World, sandbox::prometheus::Stack) {
    let stack = start(exporter(counters).await, "groups: []\n").await;
    let mut w = World::start(|s| s, |_| sandbox::model::Script { rules: vec![] })
        .await
        .unwrap();
    let timeout = Duration::from_secs(10);
    let server = mcp_prometheus::PrometheusServer::new(
        Upstream::new("prometheus", &stack.prometheus, Auth::None, timeout).unwrap(),
        None,
        mcp_prometheus::scope::Scope::default(),
        timeout,
    );
    let reads = ServerArgs {
        read_only: true,
        ..ServerArgs::default()
    };
    w.add_server("prometheus", e2e::host(server, &reads).await.unwrap());
    (w, stack)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_burst_in_kongs_prometheus_metrics_is_reverted_like_a_konnect_one() {
    mcp_runtime::telemetry::install_crypto_provider();
    let counters: Counters = Arc::new(Mutex::new(vec![("shop", "orders", 200, 0)]));
    let code = Arc::new(Mutex::new(200u16));
    let stop = Arc::new(Mutex::new(false));
    traffic(counters.clone(), code.clone(), stop.clone());
    let (w, _stack) = world(counters.clone()).await;
    let mut target = w.target();
    target.source = Source::Prometheus;
    target.prometheus = PromSignal {
        matchers: r#"namespace="shop", job="kong""#.into(),
        step_secs: 5,
        ..PromSignal::default()
    };
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    let flow = |w: &World| {
        let mut f = w
            .flow_on(
                e2e::approval::scripted_model(&w.model.url()).unwrap(),
                false,
                SystemClock,
            )
            .unwrap();
        f.settings.window_secs = 5;
        f
    };
    // Healthy traffic first, measured: no incident, no write.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let healthy = schedule::once(&flow(&w), std::slice::from_ref(&target), &state)
        .await
        .unwrap();
    assert!(w.rollback_pulls().unwrap().is_empty(), "{healthy:?}");
    // The deploy goes live, and orders-route answers 503 from then on.
    let now = jiff::Timestamp::now().as_second();
    let sha = w
        .push_config(
            "orders: maintenance mode",
            terminate_orders,
            now - 60,
            Some(now - 1),
        )
        .unwrap();
    w.model.state.set_script(sandbox::demo::model_script(&sha));
    *code.lock().unwrap() = 503;
    let mut opened = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        schedule::once(&flow(&w), std::slice::from_ref(&target), &state)
            .await
            .unwrap();
        if !w.rollback_pulls().unwrap().is_empty() {
            opened = true;
            break;
        }
    }
    *stop.lock().unwrap() = true;
    assert!(
        opened,
        "no rollback PR; audit: {:?}",
        std::fs::read_to_string(w.dir.path().join("audit.jsonl"))
    );
    let pulls = w.rollback_pulls().unwrap();
    assert_eq!(pulls.len(), 1);
    let (number, branch, head) = pulls[0].clone();
    assert_eq!(branch, format!("auto-rollback/{}", &sha[..7]));
    assert!(
        w.reverts_exactly(&sha, &head),
        "exactly that commit reverted"
    );
    w.github
        .state
        .with_repo("acme/kong-config", |r| {
            assert!(r.pull(number).unwrap().body.contains("orders-route"));
        })
        .unwrap();
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_series_is_missing_data_never_a_healthy_plane() {
    mcp_runtime::telemetry::install_crypto_provider();
    let counters: Counters = Arc::new(Mutex::new(vec![("shop", "orders", 200, 5)]));
    let (w, _stack) = world(counters).await;
    let mut target = w.target();
    target.source = Source::Prometheus;
    // A matcher no series has (a typo, or the gateway not scraped).
    target.prometheus = PromSignal {
        matchers: r#"namespace="shpo""#.into(),
        ..PromSignal::default()
    };
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    let flow = w
        .flow_on(
            e2e::approval::scripted_model(&w.model.url()).unwrap(),
            false,
            SystemClock,
        )
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = schedule::once(&flow, std::slice::from_ref(&target), &state)
        .await
        .unwrap();
    let text = format!("{report:?}");
    assert!(
        text.contains("no series for kong_http_requests_total{namespace=\\\"shpo\\\"}"),
        "{text}"
    );
}
