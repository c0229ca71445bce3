//! `agent-host` binary.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mcp_runtime::telemetry::init_logging();
    mcp_runtime::telemetry::install_crypto_provider();
    agent_host::cli::main().await
}
