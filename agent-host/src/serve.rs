//! The long-running host's own HTTP port: Prometheus metrics and health probes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::audit::Metrics;

/// What the probes report.
#[derive(Clone)]
pub struct Health {
    pub metrics: Arc<Metrics>,
    /// Whether the host is ready (configuration loaded, watches started).
    pub ready: Arc<AtomicBool>,
    /// Whether this replica currently leads (exposed as a gauge).
    pub leading: Arc<AtomicBool>,
}

async fn metrics(State(h): State<Health>) -> String {
    let mut out = h.metrics.render();
    out.push_str("# TYPE agent_host_leader gauge\n");
    out.push_str(&format!(
        "agent_host_leader {}\n",
        u8::from(h.leading.load(Ordering::Relaxed))
    ));
    out
}

async fn ready(State(h): State<Health>) -> StatusCode {
    if h.ready.load(Ordering::Relaxed) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// `/metrics`, `/healthz` (alive) and `/readyz`.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(health)
}

/// Serves the router on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, health: Health) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics and probes listening");
    axum::serve(listener, router(health)).await
}
