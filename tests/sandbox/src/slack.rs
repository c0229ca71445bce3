//! Slack Web API emulator: the methods the Slack MCP server and the flows call, with Slack's
//! `ok`/`error` semantics (HTTP 200 with `{"ok": false, "error": ...}`), cursor pagination,
//! token kinds and scopes (`missing_scope` says which), bot visibility (only channels the bot
//! was invited to), 429 with `Retry-After` on demand, and a record of every message posted or
//! updated that tests and the demo read back.

mod api;
pub mod model;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

pub use model::{Workspace, WorkspaceError};

use crate::github::lock;

/// The bot token with every scope the server needs.
pub const BOT_TOKEN: &str = "xoxb-sandbox-bot-token-0001";
/// A bot token that can read but not write or react.
pub const READONLY_TOKEN: &str = "xoxb-sandbox-readonly-token-0002";

/// A message the emulator accepted through `chat.postMessage` or `chat.update`.
#[derive(Debug, Clone)]
pub struct Posted {
    pub method: String,
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Option<Value>,
}

/// Shared state of the emulator.
pub struct Slack {
    workspace: Mutex<Workspace>,
    posted: Mutex<Vec<Posted>>,
    /// (method, remaining hits, retry-after seconds)
    limits: Mutex<Vec<(String, u32, u64)>>,
    calls: Mutex<Vec<String>>,
}

impl Slack {
    /// An emulator over `workspace`.
    pub fn new(workspace: Workspace) -> Self {
        Self {
            workspace: Mutex::new(workspace),
            posted: Mutex::new(Vec::new()),
            limits: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Every message posted or updated so far.
    pub fn posted(&self) -> Vec<Posted> {
        lock(&self.posted).clone()
    }

    /// The next `hits` calls of `method` answer 429 with `Retry-After: retry_after`.
    pub fn rate_limit(&self, method: &str, hits: u32, retry_after: u64) {
        lock(&self.limits).push((method.to_string(), hits, retry_after));
    }

    /// Names of the methods called so far, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// Runs `f` on the workspace (e.g. to add messages in a test).
    pub fn with_workspace<T>(&self, f: impl FnOnce(&mut Workspace) -> T) -> T {
        f(&mut lock(&self.workspace))
    }
}

/// A running emulator.
pub struct SlackServer {
    pub addr: SocketAddr,
    pub state: Arc<Slack>,
    /// Fault switches in front of the emulator (see [`crate::faults`]).
    pub faults: Arc<crate::faults::Faults>,
}

impl SlackServer {
    /// Base URL for `SLACK_API_URL` (methods live under `/api/`).
    pub fn url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }
}

/// The shipped workspace.
pub fn default_workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/slack/workspace.yaml")
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("binding the Slack emulator: {0}")]
    Bind(#[from] std::io::Error),
}

/// Serves `state` on `addr` (port 0: a free port).
pub async fn spawn(state: Arc<Slack>, addr: SocketAddr) -> std::io::Result<SlackServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let faults = Arc::default();
    let app = crate::faults::layer(api::router(state.clone()), &faults);
    crate::serve_in_background(listener, app, "slack");
    Ok(SlackServer {
        addr,
        state,
        faults,
    })
}

/// The emulator seeded from `file` (relative times from now) on `addr`.
pub async fn spawn_from(file: &Path, addr: SocketAddr) -> Result<SlackServer, StartError> {
    let ws = Workspace::load(file, crate::github::now())?;
    Ok(spawn(Arc::new(Slack::new(ws)), addr).await?)
}

/// The emulator with the shipped workspace on a free loopback port.
pub async fn spawn_seeded() -> Result<SlackServer, StartError> {
    spawn_from(&default_workspace(), SocketAddr::from(([127, 0, 0, 1], 0))).await
}
