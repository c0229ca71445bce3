//! TLS for emulators: a throw-away self-signed certificate for loopback, and an accept loop
//! that serves an axum router over it.
//!
//! The Kubernetes emulator needs TLS because kubectl does not send bearer tokens over plain
//! HTTP; real API servers are HTTPS anyway.

use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A certificate valid for `127.0.0.1`, `::1` and `localhost`, with its PEM for clients.
pub struct SelfSigned {
    /// PEM of the certificate, to put in a client's trust store (it is its own CA).
    pub cert_pem: String,
    config: Arc<rustls::ServerConfig>,
}

/// Errors creating the certificate or the TLS config.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("building the TLS config: {0}")]
    Config(#[from] rustls::Error),
}

impl SelfSigned {
    /// Generates a fresh key pair and certificate.
    pub fn generate() -> Result<Self, TlsError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let certified = rcgen::generate_simple_self_signed(names)?;
        let cert_pem = certified.cert.pem();
        let der: CertificateDer<'static> = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![der], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            cert_pem,
            config: Arc::new(config),
        })
    }
}

/// Serves `app` over TLS on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, app: Router, tls: &SelfSigned) {
    let acceptor = TlsAcceptor::from(tls.config.clone());
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = TowerToHyperService::new(app);
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}
