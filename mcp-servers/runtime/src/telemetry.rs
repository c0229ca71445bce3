//! Process set-up every binary does first: logs to stderr and the one TLS provider.

use tracing_subscriber::EnvFilter;

/// Sends `tracing` output to stderr (stdout belongs to the MCP protocol on stdio), filtered by
/// `RUST_LOG` (default `info`).
pub fn init_logging() {
    // rmcp logs every session start and end at info: noise at the default level.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Installs rustls' ring provider as the process default, so every HTTP client in the process
/// (kube, reqwest, octocrab) agrees on one crypto stack. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
