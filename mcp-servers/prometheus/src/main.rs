//! `mcp-prometheus` binary: parse arguments, serve, map the result to an exit code.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mcp_runtime::telemetry::init_logging();
    mcp_prometheus::run(mcp_prometheus::Args::parse()).await?;
    Ok(())
}
