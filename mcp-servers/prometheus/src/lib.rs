//! `mcp-prometheus`: an MCP server for Prometheus and Alertmanager built on reqwest and
//! [`mcp_runtime`].
//!
//! Instant and range PromQL with compact results, firing alerts (with Alertmanager's silences
//! and inhibitions), rules, targets, label values and metric metadata. Read-only, and every
//! query confined to a label scope injected through PromQL's own grammar ([`scope`]).

pub mod client;
pub mod render;
pub mod scope;
pub mod server;

use std::time::Duration;

use clap::Parser;
use mcp_runtime::ServerArgs;

pub use server::PrometheusServer;

/// Command line of `mcp-prometheus`.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-prometheus",
    version,
    about = "MCP server for Prometheus: PromQL, firing alerts, rules, targets"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Prometheus base URL (auth: PROMETHEUS_TOKEN, or PROMETHEUS_USERNAME and _PASSWORD).
    #[arg(long, env = "PROMETHEUS_URL", default_value = "http://127.0.0.1:9090")]
    pub prometheus_url: String,
    /// Alertmanager base URL, for silences and inhibitions (auth: ALERTMANAGER_TOKEN, ...).
    #[arg(long, env = "ALERTMANAGER_URL")]
    pub alertmanager_url: Option<String>,
    /// Label matchers every query, alert and target is confined to, e.g. `namespace=~"ci|prod"`.
    #[arg(long, env = "PROMETHEUS_SCOPE", default_value = "")]
    pub scope: String,
    /// Query timeout in seconds (sent to Prometheus as `timeout`).
    #[arg(long, env = "PROMETHEUS_TIMEOUT", default_value_t = 20)]
    pub timeout: u64,
}

/// Errors before serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Scope(#[from] scope::ScopeError),
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error(transparent)]
    Serve(#[from] mcp_runtime::serve::ServeError),
}

/// Builds the clients (no network call) and serves until shutdown.
pub async fn run(args: Args) -> Result<(), StartError> {
    mcp_runtime::telemetry::install_crypto_provider();
    let timeout = Duration::from_secs(args.timeout.clamp(1, 300));
    let scope = scope::Scope::parse(&args.scope)?;
    let prometheus = client::Upstream::new(
        "prometheus",
        &args.prometheus_url,
        client::Auth::from_env("PROMETHEUS"),
        timeout,
    )?;
    let alertmanager = match args.alertmanager_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => Some(client::Upstream::new(
            "alertmanager",
            u,
            client::Auth::from_env("ALERTMANAGER"),
            timeout,
        )?),
        _ => None,
    };
    let server = PrometheusServer::new(prometheus, alertmanager, scope, timeout);
    mcp_runtime::serve(server, &args.server).await?;
    Ok(())
}
