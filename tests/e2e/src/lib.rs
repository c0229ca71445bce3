//! Helpers for the end-to-end scenarios in `tests/`: host any of our MCP servers in-process
//! over Streamable HTTP, exactly as it serves in a cluster, so the agent host's pool reaches it
//! through the real transport without needing the server binaries built.

pub mod approval;
pub mod chart;
pub mod rollback;

use std::sync::Arc;

use mcp_runtime::{ServerArgs, ToolServer};
use tokio_util::sync::CancellationToken;

/// A server hosted on loopback; dropping it stops the server.
pub struct Hosted {
    /// `http://127.0.0.1:PORT/mcp`
    pub url: String,
    /// The bearer token clients must send.
    pub token: String,
    cancel: CancellationToken,
}

impl Drop for Hosted {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Errors hosting a server.
#[derive(Debug)]
pub struct HostError(pub String);

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

/// Serves `server` with `args` (tool filters, writes switch) on a free loopback port.
pub async fn host<S: ToolServer>(server: S, args: &ServerArgs) -> Result<Hosted, HostError> {
    let metrics = Arc::new(mcp_runtime::metrics::Metrics::new(S::NAME));
    let served =
        mcp_runtime::Served::new(server, args, metrics).map_err(|e| HostError(e.to_string()))?;
    let token = format!("e2e-{}", S::NAME);
    let opts = mcp_runtime::http::HttpOptions {
        token: Some(token.clone()),
        max_body_bytes: args.max_body_bytes,
        ..Default::default()
    };
    let cancel = CancellationToken::new();
    let app = mcp_runtime::http::router(served, opts, cancel.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| HostError(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| HostError(e.to_string()))?;
    let stop = cancel.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    Ok(Hosted {
        url: format!("http://{addr}/mcp"),
        token,
        cancel,
    })
}

/// The agent host's pool over hosted servers, by name. Calls are bounded tighter than in production, so a test of a hung upstream ends fast.
pub fn pool(servers: &[(&str, &Hosted)]) -> agent_host::mcp::Pool {
    agent_host::mcp::Pool::new(
        servers
            .iter()
            .map(|(name, h)| agent_host::mcp::ServerSpec {
                name: name.to_string(),
                endpoint: agent_host::mcp::Endpoint::Http {
                    url: h.url.clone(),
                    token: Some(h.token.clone()),
                },
            })
            .collect(),
    )
    .with_call_timeout(std::time::Duration::from_secs(4))
}

/// mcp-slack over the Slack emulator, posting allowed in every channel the bot is in.
pub async fn host_slack(
    slack: &sandbox::slack::SlackServer,
) -> Result<Hosted, Box<dyn std::error::Error + Send + Sync>> {
    let server = mcp_slack::server::SlackServer::new(
        mcp_slack::client::SlackApi::new(&slack.url(), sandbox::slack::BOT_TOKEN.to_string())?,
        vec![],
        mcp_slack::policy::PostPolicy::parse(Some("true"))?,
        None,
    );
    let args = ServerArgs {
        allow_writes: true,
        ..ServerArgs::default()
    };
    Ok(host(server, &args).await?)
}
