//! The sandbox: faithful local emulators of every upstream our servers and flows talk to, for
//! tests and the demo. Each emulator is `router(state) -> axum::Router` over shared state,
//! spawned on loopback, returning its URL.
//!
//! - [`kube`]: a Kubernetes API server (discovery, CRUD, CRDs, watch, patches, logs, the
//!   ApprovalTask webhook).
//!
//! - [`github`]: GitHub REST over real git objects.
//! - [`slack`]: the Slack Web API methods with `ok`/`error` semantics and token scopes.
//! - [`model`]: a scripted OpenAI-compatible chat model.
//! - [`konnect`]: Kong Konnect analytics and control-plane config over a traffic scenario.
//!
//! [`mcp_client`] holds the assertions tests use over a real MCP client session. [`env`] writes the file of standard variables (`KUBECONFIG`, ...) clients read.

pub mod demo;
pub mod env;
pub mod faults;
pub mod github;
pub mod konnect;
pub mod kube;
pub mod mcp_client;
pub mod model;
pub mod prometheus;
pub mod slack;
pub mod tls;

/// Serves `app` on `listener` in the background, logging (as `name`) if it ever stops.
pub(crate) fn serve_in_background(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    name: &'static str,
) {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "{name} emulator stopped");
        }
    });
}
