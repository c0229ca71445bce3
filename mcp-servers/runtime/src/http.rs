//! MCP Streamable HTTP: `/mcp` behind bearer auth, plus `/healthz` and `/metrics`.
//!
//! `Host` and `Origin` validation and the body limit are rmcp's; we configure them. Auth is ours:
//! a static bearer token compared in constant time, so in-cluster callers need a Secret.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::served::{Served, ToolServer};

/// Host names always accepted: the loopback ones.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Browser origins always accepted: pages served from loopback.
const LOOPBACK_ORIGINS: [&str; 3] = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// Settings of the HTTP endpoint, resolved from [`crate::ServerArgs`].
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// The bearer token clients must present; `None` only when auth was explicitly disabled.
    pub token: Option<String>,
    /// Extra accepted `Host` values.
    pub allowed_hosts: Vec<String>,
    /// Extra accepted `Origin` values.
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// `/metrics` without the token (tool names and call counts are not for everyone).
    pub metrics_public: bool,
}

/// The axum router serving `served` at `/mcp`, with `/healthz` and `/metrics`.
pub fn router<S: ToolServer>(
    served: Served<S>,
    opts: HttpOptions,
    cancel: CancellationToken,
) -> Router {
    let metrics = served.metrics().clone();
    let hosts: Vec<String> = LOOPBACK_HOSTS
        .iter()
        .map(|h| h.to_string())
        .chain(opts.allowed_hosts.iter().cloned())
        .collect();
    let origins: Vec<String> = LOOPBACK_ORIGINS
        .iter()
        .map(|o| o.to_string())
        .chain(opts.allowed_origins.iter().cloned())
        .collect();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .with_max_request_body_bytes(opts.max_body_bytes)
        .with_cancellation_token(cancel);
    let service = StreamableHttpService::new(
        move || Ok(served.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let token = Arc::new(opts.token);
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(
            token.clone(),
            require_bearer,
        ));
    let mut scrape = Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(metrics);
    if !opts.metrics_public {
        scrape = scrape.layer(middleware::from_fn_with_state(token, require_bearer));
    }
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(scrape)
        .merge(mcp)
}

async fn render_metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}

async fn require_bearer(
    State(token): State<Arc<Option<String>>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(expected) = token.as_deref() else {
        return next.run(req).await;
    };
    // The scheme is case-insensitive (RFC 7235 §2.1); the token is not.
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token\n",
        )
            .into_response()
    }
}

/// Binds `addr` and serves until `cancel` fires. Logs the URL it listens on to stderr.
pub async fn run<S: ToolServer>(
    served: Served<S>,
    addr: SocketAddr,
    opts: HttpOptions,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(url = %format!("http://{local}/mcp"), auth = opts.token.is_some(), "listening");
    let app = router(served, opts, cancel.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}
