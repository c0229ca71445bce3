//! `mcp-github`: an MCP server for GitHub built on octocrab and [`mcp_runtime`].
//!
//! Files, commits with capped patches, comparisons, pull requests with reviews and checks,
//! Actions runs and security alerts; writes (branch, a real revert through the git data API,
//! pull request, comment, merge) only when enabled, merge behind its own switch. Every tool
//! honours the `--repos` allow-list, and upstream text is fenced as untrusted data.

mod alerts;
pub mod client;
mod linediff;
mod reads;
pub mod render;
pub mod revert;
pub mod scope;
pub mod server;
mod writes;

use std::time::Duration;

use clap::Parser;
use mcp_runtime::ServerArgs;

pub use server::GitHubServer;

/// Command line of `mcp-github`.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-github",
    version,
    about = "MCP server for GitHub: code changes, pull requests, reverts"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// API base URL (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub api_url: String,
    /// Only these repositories (owner/name, comma-separated); empty: any the token can see.
    #[arg(long, value_delimiter = ',', env = "GITHUB_REPOS")]
    pub repos: Vec<String>,
    /// Expose `pull_merge` (also needs --allow-writes).
    #[arg(long, env = "GITHUB_ALLOW_MERGE")]
    pub allow_merge: bool,
    /// Longest secondary-rate-limit wait slept through inside one call, in seconds.
    #[arg(long, env = "GITHUB_MAX_RETRY_WAIT", default_value_t = 10)]
    pub max_retry_wait: u64,
}

/// Errors before serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error(transparent)]
    Serve(#[from] mcp_runtime::serve::ServeError),
}

/// The token from `GITHUB_PERSONAL_ACCESS_TOKEN` or `GITHUB_TOKEN` (never a flag: flags show in
/// process listings).
fn token() -> Option<String> {
    ["GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_TOKEN"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|t| t.trim().to_string())
        .find(|t| !t.is_empty())
}

/// Builds the client (no network call) and serves until shutdown.
pub async fn run(mut args: Args) -> Result<(), StartError> {
    mcp_runtime::telemetry::install_crypto_provider();
    let token = token();
    if token.is_none() {
        tracing::warn!(
            "no GITHUB_PERSONAL_ACCESS_TOKEN or GITHUB_TOKEN: anonymous, 60 requests per hour"
        );
    }
    let gh = client::GitHub::new(
        &args.api_url,
        token,
        Duration::from_secs(args.max_retry_wait),
    )?;
    if !args.allow_merge && !args.server.exclude_tools.iter().any(|t| t == "pull_merge") {
        // Hidden, not just refused: a model should not plan around a tool it may not use.
        args.server.exclude_tools.push("pull_merge".into());
    }
    let server = GitHubServer::new(gh, scope::Scope::new(args.repos), args.allow_merge);
    mcp_runtime::serve(server, &args.server).await?;
    Ok(())
}
