//! `mcp-slack`: an MCP server for Slack built on reqwest and [`mcp_runtime`].
//!
//! Posting (markdown converted to mrkdwn), thread replies, updates of its own messages and
//! reactions, all limited to the channels `SLACK_MCP_ADD_MESSAGE_TOOL` allows; channel history
//! and threads as compact rows with permalinks; channels and users. No network call at
//! start-up: caches fill on first use and expire.

pub mod client;
pub mod directory;
pub mod mrkdwn;
pub mod policy;
pub mod server;

use clap::Parser;
use mcp_runtime::ServerArgs;

pub use server::SlackServer;

/// Command line of `mcp-slack`.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-slack",
    version,
    about = "MCP server for Slack with gated posting"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Web API base URL.
    #[arg(long, env = "SLACK_API_URL", default_value = "https://slack.com/api/")]
    pub api_url: String,
    /// Channel ids the tools may see (empty: every channel the token sees).
    #[arg(long, value_delimiter = ',', env = "SLACK_CHANNEL_IDS")]
    pub channel_ids: Vec<String>,
    /// Workspace (team) id, checked against the token on first use when set.
    #[arg(long, env = "SLACK_TEAM_ID")]
    pub team_id: Option<String>,
}

/// Errors before serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("set SLACK_BOT_TOKEN (xoxb-...) or SLACK_MCP_XOXP_TOKEN (xoxp-...)")]
    NoToken,
    #[error("{0}")]
    Policy(String),
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error(transparent)]
    Serve(#[from] mcp_runtime::serve::ServeError),
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Builds the client (no network call) and serves until shutdown.
pub async fn run(mut args: Args) -> Result<(), StartError> {
    mcp_runtime::telemetry::install_crypto_provider();
    let token = env("SLACK_BOT_TOKEN")
        .or_else(|| env("SLACK_MCP_XOXP_TOKEN"))
        .ok_or(StartError::NoToken)?;
    let policy = policy::PostPolicy::parse(env("SLACK_MCP_ADD_MESSAGE_TOOL").as_deref())
        .map_err(StartError::Policy)?;
    // The deployments this server replaces switch posting on with SLACK_MCP_ADD_MESSAGE_TOOL
    // alone, so that variable is the writes switch here; --read-only still wins.
    if policy == policy::PostPolicy::Off {
        for t in ["message_post", "message_update", "reaction_add"] {
            if !args.server.exclude_tools.iter().any(|x| x == t) {
                args.server.exclude_tools.push(t.to_string());
            }
        }
    } else {
        args.server.allow_writes = true;
    }
    let api = client::SlackApi::new(&args.api_url, token)?;
    let server = SlackServer::new(api, args.channel_ids, policy, args.team_id);
    mcp_runtime::serve(server, &args.server).await?;
    Ok(())
}
