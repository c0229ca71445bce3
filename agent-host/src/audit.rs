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

    /// Appends one record.
    pub fn write(&self, rec: &RunRecord) -> Result<(), AuditError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let err = |source| AuditError {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut line = serde_json::to_value(rec).unwrap_or_default();
        line["cost_estimate"] = json!(cost(rec, self.prices));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        writeln!(f, "{line}").map_err(err)
    }
}

/// Counters per flow, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(String, String), f64>>,
}

impl Metrics {
    fn add(&self, name: &str, flow: &str, v: f64) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name.to_string(), flow.to_string())).or_default() += v;
        }
    }

    /// Counts a finished run.
    pub fn record(&self, rec: &RunRecord, retries: u64) {
        let f = rec.flow.as_str();
        self.add("agent_runs_total", f, 1.0);
        if matches!(rec.outcome, Outcome::NoDecision { .. }) {
            self.add("agent_runs_no_decision_total", f, 1.0);
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
        let Ok(c) = self.counters.lock() else {
            return out;
        };
        let mut last = "";
        for ((name, flow), v) in c.iter() {
            if name != last {
                out.push_str(&format!("# TYPE {name} counter\n"));
                last = name;
            }
            out.push_str(&format!("{name}{{flow=\"{flow}\"}} {v}\n"));
        }
        out
    }
}
