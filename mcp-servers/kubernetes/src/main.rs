//! `mcp-kubernetes` binary: parse arguments, serve, map the result to an exit code.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mcp_runtime::telemetry::init_logging();
    mcp_kubernetes::run(mcp_kubernetes::Args::parse()).await?;
    Ok(())
}
