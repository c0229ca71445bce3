//! Client sessions to the MCP servers, opened on first use and kept. A session that fails is
//! dropped and reopened on a later call after an exponential backoff; until then calls to that
//! server get an error telling the model not to retry, so a broken server never becomes a tight
//! loop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_runtime::redact::{redact, redact_json};
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{ToolOutcome, ToolSpec};

/// Variables every stdio child inherits: process plumbing, logging, TLS roots and the
/// in-cluster API address. Secrets reach a child only through its own `env`/`pass_env`.
pub const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "TZ",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "NO_COLOR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
];

/// How to reach a server.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A child process speaking stdio.
    Stdio {
        command: PathBuf,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    /// Streamable HTTP with an optional bearer token.
    Http { url: String, token: Option<String> },
}

/// One server of the pool; `name` becomes its tools' namespace.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub name: String,
    pub endpoint: Endpoint,
}

struct Session {
    client: RunningService<RoleClient, ()>,
    tools: Vec<Tool>,
}

#[derive(Default)]
struct Health {
    failures: u32,
    retry_at: Option<Instant>,
    restarts: u32,
}

struct Slot {
    spec: ServerSpec,
    /// Held only to open or drop the session, never during a call: calls run concurrently.
    session: Mutex<Option<Arc<Session>>>,
    health: std::sync::Mutex<Health>,
}

/// The pool.
pub struct Pool {
    slots: Vec<Slot>,
    /// The longest one tool call may take: a hung server (or a hung upstream behind it) costs
    /// a review this long, then counts as a passing fault.
    call_timeout: Duration,
}

/// Default of [`Pool::with_call_timeout`].
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << failures.min(8))).min(Duration::from_secs(60))
}

impl Pool {
    /// A pool over `servers`; nothing is started until first use.
    pub fn new(servers: Vec<ServerSpec>) -> Self {
        // The HTTP transport builds a reqwest client, which needs the rustls provider (ring).
        mcp_runtime::telemetry::install_crypto_provider();
        Self {
            slots: servers
                .into_iter()
                .map(|spec| Slot {
                    spec,
                    session: Mutex::new(None),
                    health: std::sync::Mutex::new(Health::default()),
                })
                .collect(),
            call_timeout: CALL_TIMEOUT,
        }
    }

    /// The same pool with each tool call bounded by `timeout` (the call is cancelled then).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Times each server was restarted after a failure.
    pub fn restarts(&self) -> BTreeMap<String, u32> {
        self.slots
            .iter()
            .map(|s| {
                (
                    s.spec.name.clone(),
                    s.health.lock().map(|h| h.restarts).unwrap_or(0),
                )
            })
            .collect()
    }

    async fn connect(spec: &ServerSpec) -> Result<Session, String> {
        let client = match &spec.endpoint {
            Endpoint::Stdio { command, args, env } => {
                let mut cmd = tokio::process::Command::new(command);
                // A child sees only the plumbing variables and what its spec names: the Slack
                // server never sees the GitHub token, and none sees the model's key.
                cmd.args(args)
                    .env_clear()
                    .envs(
                        BASE_ENV
                            .iter()
                            .filter_map(|k| Some((*k, std::env::var(k).ok()?))),
                    )
                    .envs(env)
                    .stderr(std::process::Stdio::inherit());
                let transport = TokioChildProcess::new(cmd)
                    .map_err(|e| format!("starting {}: {e}", command.display()))?;
                ().serve(transport).await.map_err(|e| e.to_string())?
            }
            Endpoint::Http { url, token } => {
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.clone());
                if let Some(t) = token {
                    config = config.auth_header(t.clone());
                }
                ().serve(StreamableHttpClientTransport::from_config(config))
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let tools = client.list_all_tools().await.map_err(|e| e.to_string())?;
        Ok(Session { client, tools })
    }

    /// Runs `f` with the slot's session, opening it if needed (and allowed by the backoff).
    async fn with_session<T>(
        &self,
        slot: &Slot,
        f: impl AsyncFnOnce(&Session) -> Result<T, String>,
    ) -> Result<T, String> {
        let session = {
            let mut guard = slot.session.lock().await;
            if guard.is_none() {
                let wait = slot
                    .health
                    .lock()
                    .ok()
                    .and_then(|h| h.retry_at)
                    .map(|at| at.saturating_duration_since(Instant::now()));
                if let Some(w) = wait.filter(|w| !w.is_zero()) {
                    return Err(format!(
                        "server `{}` is down and restarts in {} s",
                        slot.spec.name,
                        w.as_secs() + 1
                    ));
                }
                match Self::connect(&slot.spec).await {
                    Ok(s) => {
                        if let Ok(mut h) = slot.health.lock() {
                            if h.failures > 0 {
                                h.restarts += 1;
                            }
                            h.failures = 0;
                            h.retry_at = None;
                        }
                        *guard = Some(Arc::new(s));
                    }
                    Err(e) => {
                        self.mark_failed(slot);
                        return Err(format!("server `{}` could not start: {e}", slot.spec.name));
                    }
                }
            }
            match guard.as_ref() {
                Some(s) => s.clone(),
                None => return Err(format!("server `{}` has no session", slot.spec.name)),
            }
        };
        let result = f(&session).await;
        if result.is_err() {
            // A transport failure: drop this session (unless another call already replaced it)
            // so a later call restarts the server.
            let mut guard = slot.session.lock().await;
            if guard.as_ref().is_some_and(|s| Arc::ptr_eq(s, &session)) {
                *guard = None;
                self.mark_failed(slot);
            }
        }
        result
    }

    fn mark_failed(&self, slot: &Slot) {
        if let Ok(mut h) = slot.health.lock() {
            h.failures += 1;
            h.retry_at = Some(Instant::now() + backoff(h.failures));
        }
    }

    /// Every tool of every reachable server, namespaced `server.tool`.
    pub async fn tools(&self) -> Vec<ToolSpec> {
        let mut out = Vec::new();
        for slot in &self.slots {
            out.extend(self.tools_of(slot).await);
        }
        out
    }

    /// The tool `server.tool`, asking only its own server.
    pub async fn tool(&self, name: &str) -> Option<ToolSpec> {
        let (server, _) = name.split_once('.')?;
        let slot = self.slots.iter().find(|s| s.spec.name == server)?;
        self.tools_of(slot)
            .await
            .into_iter()
            .find(|t| t.name == name)
    }

    /// One server's tools, namespaced; none when it is unavailable.
    async fn tools_of(&self, slot: &Slot) -> Vec<ToolSpec> {
        let listed = self
            .with_session(slot, async |s: &Session| Ok(s.tools.clone()))
            .await;
        match listed {
            Ok(tools) => tools
                .into_iter()
                .map(|t| ToolSpec {
                    name: format!("{}.{}", slot.spec.name, t.name),
                    description: t.description.map(|d| d.to_string()).unwrap_or_default(),
                    schema: Value::Object((*t.input_schema).clone()),
                    read_only: t
                        .annotations
                        .as_ref()
                        .and_then(|a| a.read_only_hint)
                        .unwrap_or(false),
                })
                .collect(),
            Err(e) => {
                tracing::warn!(server = %slot.spec.name, error = %e, "server unavailable; its tools are not offered");
                Vec::new()
            }
        }
    }

    /// Calls `server.tool`.
    pub async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        let Some((server, tool)) = name.split_once('.') else {
            return ToolOutcome::error(format!("unknown tool `{name}`"));
        };
        let Some(slot) = self.slots.iter().find(|s| s.spec.name == server) else {
            return ToolOutcome::error(format!("unknown tool `{name}`"));
        };
        let mut arguments = match args {
            Value::Object(m) => m,
            Value::Null => Default::default(),
            _ => return ToolOutcome::error("tool arguments must be a JSON object"),
        };
        // Whatever built them, the strings a write sends where people read them (a PR body, a
        // Slack post) carry no secret: every write's arguments are redacted here, the one
        // path to the servers. An unknown tool counts as a write.
        if !self.tool(name).await.is_some_and(|t| t.read_only) {
            // As one object: its own keys (`token`, a name/value pair) count too.
            let mut whole = Value::Object(std::mem::take(&mut arguments));
            redact_json(&mut whole);
            if let Value::Object(m) = whole {
                arguments = m;
            }
        }
        let tool = tool.to_string();
        let call = self.with_session(slot, async |s: &Session| {
            let params = CallToolRequestParams::new(tool.clone()).with_arguments(arguments.clone());
            match s.client.call_tool(params).await {
                Ok(r) => Ok(Ok(r)),
                // A protocol error (unknown tool, bad params) is the caller's, not a crash.
                Err(rmcp::ServiceError::McpError(e)) => Ok(Err(e.message.to_string())),
                Err(e) => Err(e.to_string()),
            }
        });
        let Ok(result) = tokio::time::timeout(self.call_timeout, call).await else {
            return ToolOutcome::transient(format!(
                "`{name}` gave no answer within {} s; the server or its upstream may be hung",
                self.call_timeout.as_secs_f64()
            ));
        };
        match result {
            // Redacted again on arrival: a server that is not ours may not redact at all.
            Ok(Ok(r)) => ToolOutcome {
                // Block by block: a block that is a JSON document is redacted as one.
                text: r
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| redact(&t.text)))
                    .collect::<Vec<_>>()
                    .join("\n"),
                is_error: r.is_error == Some(true),
                data: r.structured_content.map(|mut d| {
                    redact_json(&mut d);
                    d
                }),
            },
            Ok(Err(msg)) => ToolOutcome::error(redact(&msg)),
            Err(e) => ToolOutcome::transient(format!(
                "{}. Do not retry this call in this run; continue with the evidence you have",
                redact(&e)
            )),
        }
    }
}
