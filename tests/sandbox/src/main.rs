//! `sandbox`: run the local emulators.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandbox::env::{Options, Sandbox};

#[derive(Parser)]
#[command(
    name = "sandbox",
    version,
    about = "Local emulators of the upstreams: Kubernetes, GitHub, Konnect, Slack, and a scripted model"
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
        /// Directory of GitHub seed repositories (default: the shipped seeds).
        #[arg(long)]
        github_seeds: Option<PathBuf>,
        /// Address of the GitHub API emulator.
        #[arg(long, default_value = "127.0.0.1:0")]
        github_listen: SocketAddr,
        /// Konnect scenario file (default: the shipped one).
        #[arg(long)]
        konnect_scenario: Option<PathBuf>,
        /// Address of the Konnect API emulator.
        #[arg(long, default_value = "127.0.0.1:0")]
        konnect_listen: SocketAddr,
        /// Slack workspace file (default: the shipped one).
        #[arg(long)]
        slack_workspace: Option<PathBuf>,
        /// Address of the Slack API emulator.
        #[arg(long, default_value = "127.0.0.1:0")]
        slack_listen: SocketAddr,
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
            github_seeds,
            github_listen,
            konnect_scenario,
            konnect_listen,
            slack_workspace,
            slack_listen,
        } => {
            let dir = std::path::absolute(&dir).context("resolving --dir")?;
            let opts = Options {
                kube_seeds,
                kube_addr: kube_listen,
                github_seeds,
                github_addr: github_listen,
                konnect_scenario,
                konnect_addr: konnect_listen,
                slack_workspace,
                slack_addr: slack_listen,
            };
            let sandbox = Sandbox::start(&dir, &opts).await?;
            println!("kubernetes API emulator: {}", sandbox.kube.url());
            println!("github API emulator: {}", sandbox.github.url());
            println!("konnect API emulator: {}", sandbox.konnect.url());
            println!("slack API emulator: {}", sandbox.slack.url());
            println!("scripted model: {}", sandbox.model.url());
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
