//! `sandbox`: run the local emulators.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandbox::env::Sandbox;

#[derive(Parser)]
#[command(
    name = "sandbox",
    version,
    about = "Local emulators of Kubernetes (and later GitHub, Konnect, Slack, a model)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the emulators, write an env file and a kubeconfig, and run until Ctrl-C.
    Up {
        /// Directory for `sandbox.env` and `kubeconfig`.
        #[arg(long, default_value = ".sandbox")]
        dir: PathBuf,
        /// Directory of Kubernetes seed YAML (default: the shipped seeds).
        #[arg(long)]
        kube_seeds: Option<PathBuf>,
        /// Address of the Kubernetes API emulator.
        #[arg(long, default_value = "127.0.0.1:0")]
        kube_listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Up {
            dir,
            kube_seeds,
            kube_listen,
        } => {
            let dir = std::path::absolute(&dir).context("resolving --dir")?;
            let sandbox = Sandbox::start(&dir, kube_seeds.as_deref(), kube_listen).await?;
            println!("kubernetes API emulator: {}", sandbox.kube.url());
            println!("env file: {}", sandbox.env_path().display());
            println!(
                "try: KUBECONFIG={} kubectl get approvaltasks -A",
                sandbox.kubeconfig_path().display()
            );
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            Ok(())
        }
    }
}
