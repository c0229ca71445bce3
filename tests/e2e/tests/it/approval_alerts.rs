//! A deploy gate on production's health: the approval policy's `firing-alerts` rule, evaluated
//! by host code through mcp-prometheus against the real Prometheus and Alertmanager, before
//! any model approve counts. While a critical alert fires in the task's namespace the AI
//! abstains and says why; once it resolves, the next run is approved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_host::approval::review::{ModeSetting, Review};
use e2e::approval::{AI, DIGEST, World};
use mcp_prometheus::client::{Auth, Upstream};
use mcp_runtime::ServerArgs;
use sandbox::prometheus::{Counters, exporter, start};
use serde_json::json;

const POLICY: &str = r#"
rules:
  - {id: no-latest, description: "No latest images", action: reject, check: image-tag, deny: [latest]}
  - {id: checks-green, description: "Checks green", action: reject, check: checks-green}
  - {id: calm, description: "No critical alert firing in the target namespace", action: require-human, check: firing-alerts, labels: {namespace: $namespace}}
"#;

const RULES: &str = r#"groups:
  - name: shop
    interval: 1s
    rules:
      - alert: OrdersFailing
        expr: sum by (namespace) (kong_http_requests_total{code="503"}) > 0
        labels: {severity: critical}
        annotations: {description: "orders answers 503"}
"#;

fn decided(r: Review) -> agent_host::approval::store::Record {
    match r {
        Review::Decided { record, .. } => record,
        other => panic!("expected a decision, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_critical_alert_in_the_namespace_holds_the_vote_until_it_resolves() {
    let w = World::start(e2e::approval::approving_model(), POLICY)
        .await
        .unwrap();
    let counters: Counters = Arc::new(Mutex::new(vec![
        ("ci", "orders", 200, 100),
        ("ci", "orders", 503, 7),
    ]));
    let stack = start(exporter(counters.clone()).await, RULES).await;
    let timeout = Duration::from_secs(10);
    let server = mcp_prometheus::PrometheusServer::new(
        Upstream::new("prometheus", &stack.prometheus, Auth::None, timeout).unwrap(),
        Some(Upstream::new("alertmanager", &stack.alertmanager, Auth::None, timeout).unwrap()),
        mcp_prometheus::scope::Scope::default(),
        timeout,
    );
    let args = ServerArgs {
        read_only: true,
        ..ServerArgs::default()
    };
    let prometheus = e2e::host(server, &args).await.unwrap();
    let pool = e2e::pool(&[
        ("kubernetes", &w.kube_mcp),
        ("github", &w.github_mcp),
        ("slack", &w.slack_mcp),
        ("prometheus", &prometheus),
    ]);
    let firing = async |pool: &agent_host::mcp::Pool, want: bool| {
        for _ in 0..60 {
            let out = pool
                .call("prometheus.alerts", json!({"state": "firing"}))
                .await;
            let n = out
                .data
                .as_ref()
                .and_then(|d| d["alerts"].as_array().map(Vec::len))
                .unwrap_or(0);
            if (n > 0) == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the alert never became {want}");
    };
    firing(&pool, true).await;

    let head = w.shop_head().unwrap();
    let mut approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    approver.tools = pool;
    let t = w
        .create_task("hot", &head, DIGEST, &["alice", AI], 2)
        .unwrap();
    let record = decided(approver.review(&t).await.unwrap());
    assert_eq!(record.action, "abstain", "{record:?}");
    assert!(
        record.reason.contains("calm") && record.reason.contains("OrdersFailing"),
        "{}",
        record.reason
    );
    assert_eq!(
        w.task("hot").unwrap()["spec"]["approvers"][1]["input"],
        "pending"
    );

    // The incident is over: the next run is approved.
    counters.lock().unwrap()[1].3 = 0;
    firing(&approver.tools, false).await;
    let t = w
        .create_task("calm", &head, DIGEST, &["alice", AI], 2)
        .unwrap();
    let record = decided(approver.review(&t).await.unwrap());
    assert_eq!(record.action, "approve", "{record:?}");

    // Prometheus gone: an outage is not evidence. While the task has time nothing is decided
    // or voted (never a reject), and the review is retried.
    drop(stack);
    let t = w
        .create_task("blind", &head, DIGEST, &["alice", AI], 2)
        .unwrap();
    match approver.review(&t).await {
        Err(agent_host::approval::review::ReviewError::Retry { why, .. }) => {
            assert!(why.contains("prometheus unreachable"), "{why}")
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(
        w.task("blind").unwrap()["spec"]["approvers"][1]["input"],
        "pending"
    );
}
