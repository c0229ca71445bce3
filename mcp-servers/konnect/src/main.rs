//! `mcp-konnect` binary: parse arguments, serve, map the result to an exit code.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mcp_runtime::telemetry::init_logging();
    mcp_konnect::run(mcp_konnect::Args::parse()).await?;
    Ok(())
}
