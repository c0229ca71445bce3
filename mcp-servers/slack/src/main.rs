//! `mcp-slack` binary: parse arguments, serve, map the result to an exit code.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mcp_runtime::telemetry::init_logging();
    mcp_slack::run(mcp_slack::Args::parse()).await?;
    Ok(())
}
