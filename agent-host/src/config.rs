//! The host's configuration: a YAML file, with the standard model variables from the
//! environment winning (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `MODEL_NAME`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::approval::review::ModeSetting;
use crate::audit::Prices;
use crate::mcp::{AllowList, Endpoint, ServerSpec};
use crate::model::{CapParam, ModelSettings, RetryPolicy};
use crate::prompt::Prompts;

/// The model section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default = "default_base")]
    pub base_url: String,
    /// Environment variable holding the API key.
    #[serde(default = "default_key_env")]
    pub api_key_env: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub temperature: Option<f32>,
    /// The provider supports `response_format: json_schema`.
    #[serde(default)]
    pub structured_output: bool,
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    #[serde(default = "default_max_wait")]
    pub max_retry_wait_secs: u64,
    #[serde(default = "default_threshold")]
    pub breaker_threshold: u32,
    #[serde(default = "default_cooldown")]
    pub breaker_cooldown_secs: u64,
    #[serde(default)]
    pub price_per_1k: Prices,
    /// The request parameter of the completion cap: `auto` (default), `max_completion_tokens`
    /// or `max_tokens`.
    #[serde(default)]
    pub completion_cap_param: CapParam,
}

fn default_base() -> String {
    "https://api.openai.com/v1".into()
}
fn default_key_env() -> String {
    "OPENAI_API_KEY".into()
}
fn default_timeout() -> u64 {
    120
}
fn default_retries() -> u32 {
    4
}
fn default_max_wait() -> u64 {
    60
}
fn default_threshold() -> u32 {
    5
}
fn default_cooldown() -> u64 {
    30
}

/// One MCP server: a command (stdio) or a URL (Streamable HTTP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Host variables passed to this child (names, or prefixes ending in `*`); a child gets
    /// nothing else from the host but the plumbing variables (`mcp::pool::BASE_ENV`).
    #[serde(default)]
    pub pass_env: Vec<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Environment variable holding the bearer token for `url`.
    #[serde(default)]
    pub token_env: Option<String>,
}

/// One flow's tools, budgets, templates and answer schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Tools the model is offered (`server.tool` or `server.*`); read-only ones only.
    pub tools: Vec<String>,
    /// Write tools the model may call, each by its exact name (none of the shipped flows
    /// has any: their writes are host code).
    #[serde(default)]
    pub model_writes: Vec<String>,
    #[serde(default = "default_steps")]
    pub max_steps: u32,
    #[serde(default = "default_tokens")]
    pub max_tokens: u64,
    /// Cap on each model completion; default: sized from `answer_schema`
    /// ([`crate::agent::usage::completion_cap`], 1,024 for the shipped verdict).
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default = "default_deadline")]
    pub deadline_secs: u64,
    #[serde(default = "default_cap")]
    pub result_cap_bytes: usize,
    pub system_template: String,
    pub user_template: String,
    /// The answer's JSON Schema, inline or as a file name under `prompts_dir`.
    pub answer_schema: Value,
}

impl FlowConfig {
    /// What the model of this flow may use.
    pub fn allow_list(&self) -> AllowList {
        AllowList::new(self.tools.clone()).with_writes(self.model_writes.clone())
    }

    /// The completion cap of this flow's requests.
    pub fn completion_cap(&self) -> u32 {
        self.max_completion_tokens
            .unwrap_or_else(|| crate::agent::usage::completion_cap(&self.answer_schema))
    }
}

fn default_steps() -> u32 {
    10
}
fn default_tokens() -> u64 {
    100_000
}
fn default_deadline() -> u64 {
    300
}
fn default_cap() -> usize {
    12_000
}

/// The audit section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    #[serde(default)]
    pub jsonl: Option<PathBuf>,
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub model: ModelConfig,
    #[serde(default)]
    pub servers: BTreeMap<String, ServerConfig>,
    #[serde(default)]
    pub flows: BTreeMap<String, FlowConfig>,
    /// The prompt templates (the shipped set).
    #[serde(default = "default_prompts")]
    pub prompts_dir: PathBuf,
    /// A directory whose templates take precedence over `prompts_dir`'s: override only the
    /// files you change (any subset, same relative paths).
    #[serde(default)]
    pub prompts_override: Option<PathBuf>,
    #[serde(default)]
    pub audit: AuditConfig,
    /// The approval controller; absent: the flow is off.
    #[serde(default)]
    pub approval: Option<ApprovalConfig>,
    /// The rollback flow; absent: off.
    #[serde(default)]
    pub rollback: Option<RollbackConfig>,
}

/// The rollback flow's section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackConfig {
    /// Seconds between passes over all targets.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Each measurement covers the last this many seconds.
    #[serde(default = "default_window")]
    pub window_secs: i64,
    #[serde(default)]
    pub detector: crate::rollback::detector::Limits,
    #[serde(default = "default_lookback")]
    pub lookback_hours: i64,
    #[serde(default = "default_lead")]
    pub max_lead_minutes: i64,
    /// How long after the start of the first failing minute a commit may have gone live and
    /// still be blamed (clock skew between GitHub and Konnect; errors that begin within the
    /// minute of a deploy). Default 60.
    #[serde(default = "default_skew")]
    pub clock_skew_secs: i64,
    /// Merge the rollback PR once its checks pass (default: humans merge).
    #[serde(default)]
    pub auto_merge: bool,
    /// File keeping detector state and incidents across restarts.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    #[serde(default = "default_rollback_flow")]
    pub flow: String,
    pub targets: Vec<crate::rollback::pass::Target>,
}

fn default_interval() -> u64 {
    60
}
fn default_window() -> i64 {
    60
}
fn default_lookback() -> i64 {
    24
}
fn default_lead() -> i64 {
    30
}
fn default_skew() -> i64 {
    60
}
fn default_rollback_flow() -> String {
    "rollback".into()
}

/// The approval controller's section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// `co-approver` (a human still signs) or `full-approver` (inside the policy's autonomy).
    #[serde(default = "default_mode")]
    pub mode: ModeSetting,
    /// The username we vote as; default: asked from the API server (SelfSubjectReview).
    #[serde(default)]
    pub identity: Option<String>,
    /// Namespaces to watch; empty: all (needs cluster-wide RBAC).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Policy file (hot-reloaded).
    pub policy: PathBuf,
    /// Namespace of our decision records and the leader Lease.
    #[serde(default = "default_state_ns")]
    pub state_namespace: String,
    #[serde(default = "default_confidence")]
    pub min_confidence: f64,
    /// Do not start a review with less time than this before the task times out.
    #[serde(default = "default_min_left")]
    pub min_seconds_left: i64,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Slack channel told when a human must act (needs the Slack server with posting on).
    #[serde(default)]
    pub notify_slack_channel: Option<String>,
    /// The flow (tools, budgets, templates, verdict schema) under `flows`.
    #[serde(default = "default_flow")]
    pub flow: String,
    #[serde(default = "default_lease")]
    pub lease_name: String,
    #[serde(default = "default_lease_secs")]
    pub lease_duration_secs: u64,
}

fn default_mode() -> ModeSetting {
    ModeSetting::CoApprover
}
fn default_state_ns() -> String {
    "ai".into()
}
fn default_confidence() -> f64 {
    0.8
}
fn default_min_left() -> i64 {
    120
}
fn default_concurrency() -> usize {
    4
}
fn default_flow() -> String {
    "approval".into()
}
fn default_lease() -> String {
    "agent-host-approval".into()
}
fn default_lease_secs() -> u64 {
    15
}

fn default_prompts() -> PathBuf {
    "prompts".into()
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("config {path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Config {
    /// The prompt templates: `prompts_dir` overlaid by `prompts_override`.
    pub fn prompts(&self) -> Prompts {
        let base = Prompts::new(&self.prompts_dir);
        match &self.prompts_override {
            Some(o) => base.with_override(o),
            None => base,
        }
    }

    /// Loads `path`; relative paths inside resolve against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut cfg: Config = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if cfg.prompts_dir.is_relative() {
            cfg.prompts_dir = base.join(&cfg.prompts_dir);
        }
        if let Some(o) = cfg.prompts_override.as_mut() {
            if o.is_relative() {
                *o = base.join(&*o);
            }
            // A mount that did not happen would silently bring back the shipped prompts.
            if !o.is_dir() {
                return Err(err(format!(
                    "prompts_override: {} is not a directory",
                    o.display()
                )));
            }
        }
        if let Some(j) = &cfg.audit.jsonl
            && j.is_relative()
        {
            cfg.audit.jsonl = Some(base.join(j));
        }
        // `answer_schema: approval/verdict.schema.json` names a file under the prompts.
        let prompts = cfg.prompts();
        for (name, flow) in cfg.flows.iter_mut() {
            if let Value::String(file) = &flow.answer_schema {
                let p = prompts
                    .find(file)
                    .unwrap_or_else(|| cfg.prompts_dir.join(file));
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| err(format!("flow {name}: {}: {e}", p.display())))?;
                flow.answer_schema = serde_json::from_str(&text)
                    .map_err(|e| err(format!("flow {name}: {}: {e}", p.display())))?;
            }
        }
        for t in cfg.rollback.iter().flat_map(|r| &r.targets) {
            if t.source == crate::rollback::signal::Source::Prometheus {
                t.prometheus
                    .validate()
                    .map_err(|e| err(format!("rollback target {}: {e}", t.control_plane)))?;
            }
        }
        if let Some(r) = cfg.rollback.as_mut()
            && let Some(f) = &r.state_file
            && f.is_relative()
        {
            r.state_file = Some(base.join(f));
        }
        if let Some(a) = cfg.approval.as_mut()
            && a.policy.is_relative()
        {
            a.policy = base.join(&a.policy);
        }
        for (name, s) in &cfg.servers {
            // Tools are named `server.tool` (on the wire `server__tool`): a dot or a double
            // underscore in a server name would make two tools one name.
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !name.contains("__");
            if !plain {
                return Err(err(format!(
                    "server name `{name}`: use letters, digits, `-` and single `_` only"
                )));
            }
            if s.command.is_some() == s.url.is_some() {
                return Err(err(format!(
                    "server {name}: give exactly one of `command` or `url`"
                )));
            }
        }
        Ok(cfg)
    }

    /// Model settings, with the environment winning.
    pub fn model_settings(&self) -> ModelSettings {
        let m = &self.model;
        ModelSettings {
            base_url: env("OPENAI_BASE_URL").unwrap_or_else(|| m.base_url.clone()),
            // Local servers (llama.cpp, vLLM, Ollama) accept any key.
            api_key: env(&m.api_key_env).unwrap_or_else(|| "none".into()),
            model: env("MODEL_NAME").unwrap_or_else(|| m.name.clone()),
            timeout: Duration::from_secs(m.timeout_secs),
            stream: m.stream,
            retry: RetryPolicy {
                max_retries: m.max_retries,
                base: Duration::from_millis(500),
                max_wait: Duration::from_secs(m.max_retry_wait_secs),
            },
            breaker_threshold: m.breaker_threshold,
            breaker_cooldown: Duration::from_secs(m.breaker_cooldown_secs),
            cap_param: m.completion_cap_param,
        }
    }

    /// The servers; a bare `command` is looked up next to this binary first (our own servers
    /// ship together), then on `PATH`.
    pub fn server_specs(&self, exe_dir: Option<&Path>) -> Vec<ServerSpec> {
        self.servers
            .iter()
            .map(|(name, s)| {
                let endpoint = match (&s.command, &s.url) {
                    (Some(cmd), _) => {
                        let beside = exe_dir
                            .map(|d| d.join(cmd))
                            .filter(|p| !cmd.contains('/') && p.is_file());
                        let mut env: BTreeMap<String, String> = std::env::vars()
                            .filter(|(k, _)| {
                                s.pass_env.iter().any(|p| match p.strip_suffix('*') {
                                    Some(prefix) => k.starts_with(prefix),
                                    None => p == k,
                                })
                            })
                            .collect();
                        env.extend(s.env.clone());
                        Endpoint::Stdio {
                            command: beside.unwrap_or_else(|| PathBuf::from(cmd)),
                            args: s.args.clone(),
                            env,
                        }
                    }
                    (None, url) => Endpoint::Http {
                        url: url.clone().unwrap_or_default(),
                        token: s.token_env.as_deref().and_then(env),
                    },
                };
                ServerSpec {
                    name: name.clone(),
                    endpoint,
                }
            })
            .collect()
    }

    /// A flow by name.
    pub fn flow(&self, name: &str) -> Result<&FlowConfig, ConfigError> {
        self.flows.get(name).ok_or_else(|| ConfigError {
            path: "flows".into(),
            message: format!(
                "no flow `{name}` (configured: {})",
                self.flows.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// A flow's tool allow-list.
    pub fn allow_list(&self, flow: &FlowConfig) -> AllowList {
        flow.allow_list()
    }
}
