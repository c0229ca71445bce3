//! Per-tool call metrics, rendered in the Prometheus text format on `/metrics`.
//!
//! A handful of counters and a fixed-bucket histogram per tool, behind one mutex: calls are
//! network-bound, so contention is irrelevant and no metrics framework is worth its weight.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default, Clone)]
struct ToolStats {
    calls: u64,
    errors: u64,
    truncated: u64,
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
}

/// Counters for one server process.
#[derive(Debug)]
pub struct Metrics {
    server: String,
    tools: Mutex<BTreeMap<String, ToolStats>>,
}

/// What happened in one tool call.
#[derive(Debug, Clone, Copy)]
pub struct CallOutcome {
    /// The result had `isError: true`.
    pub error: bool,
    /// The result was cut by the output budget.
    pub truncated: bool,
    /// Wall-clock time of the call.
    pub elapsed: Duration,
}

impl Metrics {
    /// Empty metrics labelled with the server's name.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            tools: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records one call of `tool`.
    pub fn record(&self, tool: &str, outcome: CallOutcome) {
        let mut tools = match self.tools.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let stats = tools.entry(tool.to_string()).or_default();
        stats.calls += 1;
        stats.errors += u64::from(outcome.error);
        stats.truncated += u64::from(outcome.truncated);
        let secs = outcome.elapsed.as_secs_f64();
        stats.sum_seconds += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                stats.buckets[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition of all counters.
    pub fn render(&self) -> String {
        let tools = match self.tools.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let server = &self.server;
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&ToolStats) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (tool, s) in &tools {
                let _ = writeln!(
                    out,
                    "{name}{{server=\"{server}\",tool=\"{tool}\"}} {}",
                    value(s)
                );
            }
        };
        family("mcp_tool_calls_total", "counter", "Tool calls.", &|s| {
            s.calls
        });
        family(
            "mcp_tool_errors_total",
            "counter",
            "Tool calls that returned isError.",
            &|s| s.errors,
        );
        family(
            "mcp_tool_truncated_total",
            "counter",
            "Tool results cut by the output budget.",
            &|s| s.truncated,
        );
        let name = "mcp_tool_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Tool call latency.\n# TYPE {name} histogram"
        );
        for (tool, s) in &tools {
            let labels = format!("server=\"{server}\",tool=\"{tool}\"");
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", s.calls);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum_seconds);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.calls);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::new("mcp-test");
        let ok = CallOutcome {
            error: false,
            truncated: false,
            elapsed: Duration::from_millis(3),
        };
        let slow_err = CallOutcome {
            error: true,
            truncated: true,
            elapsed: Duration::from_millis(300),
        };
        m.record("pods_list", ok);
        m.record("pods_list", slow_err);
        let text = m.render();
        assert!(
            text.contains("mcp_tool_calls_total{server=\"mcp-test\",tool=\"pods_list\"} 2"),
            "{text}"
        );
        assert!(text.contains("mcp_tool_errors_total{server=\"mcp-test\",tool=\"pods_list\"} 1"));
        assert!(
            text.contains("mcp_tool_truncated_total{server=\"mcp-test\",tool=\"pods_list\"} 1")
        );
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.5\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
