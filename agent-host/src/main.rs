//! `agent-host` binary.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mcp_runtime::telemetry::init_logging();
    mcp_runtime::telemetry::install_crypto_provider();
    match agent_host::cli::main().await {
        // `agent-host tools | head`: the reader has what it wanted.
        Err(e) if agent_host::cli::is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}
