//! `serve`: run a [`ToolServer`] on the transport the arguments chose, until shutdown.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use crate::args::{ServerArgs, Transport};
use crate::filter::FilterError;
use crate::http::{self, HttpOptions};
use crate::metrics::Metrics;
use crate::served::{Served, ToolServer};

/// Why a server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(
        "HTTP needs a bearer token (--auth-token-file or MCP_AUTH_TOKEN), or --no-auth on a loopback address"
    )]
    MissingToken,
    #[error("--no-auth is only allowed on a loopback address, not {0}")]
    NoAuthOffLoopback(SocketAddr),
    #[error("reading the token file {path}: {source}")]
    TokenFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the token file {0} is empty")]
    EmptyToken(String),
    #[error("MCP stdio session failed to start: {0}")]
    Stdio(String),
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
}

/// Serves `server` as the arguments say: stdio (until stdin closes or SIGTERM) or Streamable
/// HTTP (until SIGTERM or Ctrl-C).
pub async fn serve<S: ToolServer>(server: S, args: &ServerArgs) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::new(S::NAME));
    let served = Served::new(server, args, metrics)?;
    tracing::info!(server = S::NAME, tools = served.tools().len(), transport = ?args.transport, "starting");
    let cancel = CancellationToken::new();
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            shutdown_signal().await;
            cancel.cancel();
        }
    });
    match args.transport {
        Transport::Stdio => serve_stdio(served, cancel).await,
        Transport::Http => {
            let addr = args
                .listen
                .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, S::DEFAULT_PORT)));
            let opts = http_options(args, addr)?;
            http::run(served, addr, opts, cancel).await?;
            Ok(())
        }
    }
}

async fn serve_stdio<S: ToolServer>(
    served: Served<S>,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    let running = served
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| ServeError::Stdio(e.to_string()))?;
    let running_cancel = running.cancellation_token();
    tokio::select! {
        reason = running.waiting() => {
            tracing::info!(?reason, "stdio session ended");
        }
        _ = cancel.cancelled() => {
            running_cancel.cancel();
            tracing::info!("shutting down on signal");
        }
    }
    Ok(())
}

/// Resolves auth and allow-lists; refuses an unauthenticated non-loopback listener.
pub fn http_options(args: &ServerArgs, addr: SocketAddr) -> Result<HttpOptions, ServeError> {
    let token = if let Some(path) = &args.auth_token_file {
        let raw = std::fs::read_to_string(path).map_err(|source| ServeError::TokenFile {
            path: path.display().to_string(),
            source,
        })?;
        let token = raw.trim().to_string();
        if token.is_empty() {
            return Err(ServeError::EmptyToken(path.display().to_string()));
        }
        Some(token)
    } else {
        args.auth_token.clone().filter(|t| !t.trim().is_empty())
    };
    if token.is_none() {
        if !args.no_auth {
            return Err(ServeError::MissingToken);
        }
        if !addr.ip().is_loopback() {
            return Err(ServeError::NoAuthOffLoopback(addr));
        }
    }
    Ok(HttpOptions {
        token,
        allowed_hosts: args.allowed_hosts.clone(),
        allowed_origins: args.allowed_origins.clone(),
        max_body_bytes: args.max_body_bytes,
        metrics_public: args.metrics_public,
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn http_requires_a_token_unless_loopback_opt_out() {
        let args = ServerArgs::default();
        assert!(matches!(
            http_options(&args, addr("127.0.0.1:1")),
            Err(ServeError::MissingToken)
        ));
        let args = ServerArgs {
            no_auth: true,
            ..Default::default()
        };
        assert!(http_options(&args, addr("127.0.0.1:1")).is_ok());
        assert!(matches!(
            http_options(&args, addr("0.0.0.0:1")),
            Err(ServeError::NoAuthOffLoopback(_))
        ));
    }

    #[test]
    fn token_file_is_trimmed_and_must_not_be_empty() {
        let dir = std::env::temp_dir().join(format!("mcp-runtime-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let args = ServerArgs {
            auth_token_file: Some(file.clone()),
            ..Default::default()
        };
        assert_eq!(
            http_options(&args, addr("0.0.0.0:1"))
                .unwrap()
                .token
                .as_deref(),
            Some("s3cret")
        );
        std::fs::write(&file, "  \n").unwrap();
        assert!(matches!(
            http_options(&args, addr("0.0.0.0:1")),
            Err(ServeError::EmptyToken(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
