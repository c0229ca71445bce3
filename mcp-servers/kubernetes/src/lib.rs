//! `mcp-kubernetes`: an MCP server for Kubernetes built on kube-rs and [`mcp_runtime`].
//!
//! Generic list/get for any resource (CRDs included, via discovery), pod diagnosis, logs,
//! events, rollout status, Tekton summaries, the ApprovalTask approval context, and one write:
//! voting on an ApprovalTask as the server's own identity with a guarded JSON Patch.
//! Secret values never leave the server.

pub mod approval;
pub mod args;
pub mod cluster;
pub mod format;
mod gather;
pub mod images;
pub mod pods;
pub mod server;
pub mod tekton;

use clap::Parser;
use mcp_runtime::ServerArgs;

pub use server::KubernetesServer;

/// Command line of `mcp-kubernetes`.
#[derive(Debug, Parser)]
#[command(
    name = "mcp-kubernetes",
    version,
    about = "MCP server for Kubernetes, Tekton and ApprovalTasks"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// kubeconfig context (default: current context, or in-cluster config).
    #[arg(long, env = "K8S_CONTEXT")]
    pub context: Option<String>,
    /// Only these namespaces may be read or written.
    #[arg(long, value_delimiter = ',', env = "K8S_NAMESPACES")]
    pub namespaces: Vec<String>,
    /// Kinds no tool may touch (e.g. Secret,ConfigMap).
    #[arg(long, value_delimiter = ',', env = "K8S_DENY_KINDS")]
    pub deny_kinds: Vec<String>,
    /// Username used for ApprovalTask votes (default: asked from the API server).
    #[arg(long, env = "K8S_IDENTITY")]
    pub identity: Option<String>,
}

/// Errors before serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading Kubernetes config: {0}")]
    Config(String),
    #[error(transparent)]
    Serve(#[from] mcp_runtime::serve::ServeError),
}

/// Builds the kube client (no network call) and serves until shutdown.
pub async fn run(args: Args) -> Result<(), StartError> {
    mcp_runtime::telemetry::install_crypto_provider();
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let config = match kube::Config::from_kubeconfig(&options).await {
        Ok(c) => c,
        Err(kubeconfig_err) => kube::Config::incluster()
            .map_err(|e| StartError::Config(format!("{kubeconfig_err}; in-cluster: {e}")))?,
    };
    let client = kube::Client::try_from(config).map_err(|e| StartError::Config(e.to_string()))?;
    let scoping = cluster::Scoping {
        namespaces: args.namespaces,
        denied_kinds: args.deny_kinds,
        identity: args.identity,
    };
    let server = KubernetesServer::new(cluster::Cluster::new(client, scoping));
    mcp_runtime::serve(server, &args.server).await?;
    Ok(())
}
