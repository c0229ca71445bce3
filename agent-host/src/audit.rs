//! Audit and accounting: one JSON line per run (the rendered prompt, every message, every tool
//! call with its full result, tokens, cost estimate, timings, outcome) and Prometheus counters.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::json;

use crate::agent::{Outcome, RunRecord};

/// Price per 1,000 tokens, for the cost estimate.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub struct Prices {
    #[serde(default)]
    pub prompt: f64,
    #[serde(default)]
    pub completion: f64,
}

/// Estimated cost of a run in the prices' currency.
pub fn cost(rec: &RunRecord, prices: Prices) -> f64 {
    (rec.prompt_tokens as f64 * prices.prompt + rec.completion_tokens as f64 * prices.completion)
        / 1000.0
}

/// Errors writing the audit log.
#[derive(Debug, thiserror::Error)]
#[error("writing the audit log {path}: {source}")]
pub struct AuditError {
    pub path: String,
    pub source: std::io::Error,
}

/// An append-only JSONL audit log.
pub struct AuditLog {
    path: Option<PathBuf>,
    prices: Prices,
}

impl AuditLog {
    /// Writes to `path` (None: nowhere).
    pub fn new(path: Option<PathBuf>, prices: Prices) -> Self {
        Self { path, prices }
    }

    /// Appends one run record, with its cost estimate.
    pub fn write(&self, rec: &RunRecord) -> Result<(), AuditError> {
        let mut line = serde_json::to_value(rec).unwrap_or_default();
        line["cost_estimate"] = json!(cost(rec, self.prices));
        self.write_value(&line)
    }

    /// The log's file, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Appends one line (a flow's own record: decisions, feedback, incidents), redacted: the
    /// log is read by people and exported as training data.
    pub fn write_value(&self, line: &serde_json::Value) -> Result<(), AuditError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut line = line.clone();
        mcp_runtime::redact::redact_json(&mut line);
        let err = |source| AuditError {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        writeln!(f, "{line}").map_err(err)
    }
}

/// Labelled counters, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    /// (name, rendered labels) -> value
    counters: Mutex<BTreeMap<(String, String), f64>>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Adds `v` to counter `name` with `labels`.
    pub fn count(&self, name: &str, labels: &[(&str, &str)], v: f64) {
        let rendered = labels
            .iter()
            .map(|(k, val)| format!("{k}=\"{}\"", escape(val)))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = mcp_runtime::sync::lock(&self.counters);
        *c.entry((name.to_string(), rendered)).or_default() += v;
    }

    fn add(&self, name: &str, flow: &str, v: f64) {
        self.count(name, &[("flow", flow)], v);
    }

    /// Counts a finished run.
    pub fn record(&self, rec: &RunRecord, retries: u64) {
        let f = rec.flow.as_str();
        self.add("agent_runs_total", f, 1.0);
        match rec.outcome {
            Outcome::NoDecision { .. } => self.add("agent_runs_no_decision_total", f, 1.0),
            Outcome::Unavailable { .. } => self.add("agent_runs_model_unavailable_total", f, 1.0),
            Outcome::Answer { .. } => {}
        }
        self.add("agent_steps_total", f, f64::from(rec.steps));
        self.add("agent_prompt_tokens_total", f, rec.prompt_tokens as f64);
        self.add(
            "agent_completion_tokens_total",
            f,
            rec.completion_tokens as f64,
        );
        self.add("agent_tool_calls_total", f, rec.tool_calls.len() as f64);
        self.add(
            "agent_tool_errors_total",
            f,
            rec.tool_calls.iter().filter(|c| c.is_error).count() as f64,
        );
        self.add("agent_model_retries_total", f, retries as f64);
    }

    /// The Prometheus exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = mcp_runtime::sync::lock(&self.counters);
        let mut last = "";
        for ((name, labels), v) in c.iter() {
            if name != last {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last = name;
            }
            out.push_str(&format!("{name}{{{labels}}} {v}\n"));
        }
        out
    }
}
