//! The real Prometheus and Alertmanager as a test fixture (Debian's `prometheus` and
//! `prometheus-alertmanager`, which `.ci/run` installs), with a Kong-style exporter the test
//! drives: there is no Prometheus emulator, the real servers are the fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counters the fake Kong serves: (namespace, route, code) -> count.
pub type Counters = Arc<Mutex<Vec<(&'static str, &'static str, u16, u64)>>>;

fn binary(names: &[&str]) -> String {
    for n in names {
        if let Ok(out) = std::process::Command::new("which").arg(n).output()
            && out.status.success()
        {
            return String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
    }
    panic!(
        "none of {names:?} is installed: `apt-get install prometheus prometheus-alertmanager` (.ci/run does)"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `/metrics` in the Prometheus text format, as Kong's prometheus plugin does.
pub async fn exporter(counters: Counters) -> SocketAddr {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let c = counters.clone();
            async move {
                let mut body = String::from(
                    "# HELP kong_http_requests_total HTTP status codes per consumer/service/route in Kong\n# TYPE kong_http_requests_total counter\n",
                );
                for (ns, route, code, n) in c.lock().unwrap().iter() {
                    body.push_str(&format!(
                        "kong_http_requests_total{{namespace=\"{ns}\",service=\"{route}\",route=\"{route}-route\",code=\"{code}\"}} {n}\n"
                    ));
                }
                body
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    addr
}

/// Prometheus and Alertmanager running on loopback ports, stopped on drop.
pub struct Stack {
    _dir: tempfile::TempDir,
    _prometheus: tokio::process::Child,
    _alertmanager: tokio::process::Child,
    /// Base URLs.
    pub prometheus: String,
    pub alertmanager: String,
}

/// Starts Alertmanager and Prometheus (scraping `exporter` every second as job `kong`, with
/// honor_labels and the target label `namespace=shop`, evaluating `rules` every second) and
/// waits until both are ready.
pub async fn start(exporter: SocketAddr, rules: &str) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let (pp, ap, cp) = (free_port(), free_port(), free_port());
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [rules.yml]\n\
             alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{ap}']}}]}}]}}\n\
             scrape_configs:\n  - job_name: kong\n    honor_labels: true\n    static_configs:\n      - targets: ['{exporter}']\n        labels: {{namespace: shop}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        "route: {receiver: none, group_wait: 0s}\nreceivers: [{name: none}]\n",
    )
    .unwrap();
    let am = tokio::process::Command::new(binary(&["prometheus-alertmanager", "alertmanager"]))
        .args([
            format!(
                "--config.file={}",
                dir.path().join("alertmanager.yml").display()
            ),
            format!("--storage.path={}", dir.path().join("am").display()),
            format!("--web.listen-address=127.0.0.1:{ap}"),
            format!("--cluster.listen-address=127.0.0.1:{cp}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let prom = tokio::process::Command::new(binary(&["prometheus"]))
        .current_dir(dir.path())
        .args([
            "--config.file=prometheus.yml".to_string(),
            format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{pp}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stack = Stack {
        _dir: dir,
        _prometheus: prom,
        _alertmanager: am,
        prometheus: format!("http://127.0.0.1:{pp}"),
        alertmanager: format!("http://127.0.0.1:{ap}"),
    };
    let http = reqwest::Client::new();
    for url in [&stack.prometheus, &stack.alertmanager] {
        let ready = format!("{url}/-/ready");
        let mut up = false;
        for _ in 0..100 {
            if http
                .get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(up, "{url} did not become ready");
    }
    stack
}
