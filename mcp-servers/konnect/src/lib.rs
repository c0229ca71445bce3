//! `mcp-konnect`: an MCP server for Kong Konnect built on reqwest and [`mcp_runtime`].
//!
//! Traffic health from the aggregated `/v2/metrics` API (one batched query per call, names
//! resolved through `meta.display`), validated raw metrics queries, sampled request records as
//! evidence, control planes and gateway entities with scoped ids handled for the caller. The
//! 10-queries-a-minute limit is shared by every caller in the process, with a short cache.

pub mod args;
pub mod client;
pub mod entities;
pub mod health;
pub mod limiter;
pub mod query;
pub mod resolve;
pub mod server;

use std::time::Duration;

use clap::Parser;
use mcp_runtime::ServerArgs;

pub use server::KonnectServer;

/// Command line of `mcp-konnect`.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-konnect",
    version,
    about = "MCP server for Kong Konnect analytics and gateway config"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Konnect region: us, eu, au, me, in, sg.
    #[arg(long, env = "KONNECT_REGION", default_value = "us")]
    pub region: String,
    /// API base URL (overrides the region's).
    #[arg(long, env = "KONNECT_API_URL")]
    pub api_url: Option<String>,
    /// Only these control planes (names or ids).
    #[arg(long, value_delimiter = ',', env = "KONNECT_CONTROL_PLANES")]
    pub control_planes: Vec<String>,
    /// Analytics queries per minute for this token (Konnect allows 10).
    #[arg(long, env = "KONNECT_METRICS_PER_MINUTE", default_value_t = 10)]
    pub metrics_per_minute: usize,
    /// Seconds an identical analytics query is answered from cache.
    #[arg(long, env = "KONNECT_CACHE_TTL", default_value_t = 30)]
    pub cache_ttl: u64,
    /// Longest wait for an analytics slot inside one call, in seconds.
    #[arg(long, env = "KONNECT_MAX_WAIT", default_value_t = 5)]
    pub max_wait: u64,
}

/// Errors before serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("KONNECT_ACCESS_TOKEN is not set")]
    NoToken,
    #[error("unknown KONNECT_REGION `{0}` (us, eu, au, me, in, sg)")]
    Region(String),
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error(transparent)]
    Serve(#[from] mcp_runtime::serve::ServeError),
}

/// Builds the client (no network call) and serves until shutdown.
pub async fn run(args: Args) -> Result<(), StartError> {
    mcp_runtime::telemetry::install_crypto_provider();
    let token = std::env::var("KONNECT_ACCESS_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or(StartError::NoToken)?;
    let base = match &args.api_url {
        Some(u) => u.clone(),
        None => client::region_url(&args.region)
            .ok_or_else(|| StartError::Region(args.region.clone()))?,
    };
    let api = client::Konnect::new(&base, token)?;
    let gate = limiter::MetricsGate::new(
        args.metrics_per_minute,
        Duration::from_secs(args.cache_ttl),
        Duration::from_secs(args.max_wait),
    );
    let server = KonnectServer::new(api, args.control_planes, gate);
    mcp_runtime::serve(server, &args.server).await?;
    Ok(())
}
