//! `feedback export` and `feedback report`: the learning loop's outputs, from the audit log.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::approval::feedback::{self, Format};

/// The audit log's lines (unparseable lines are skipped and counted).
pub fn read(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the audit log {}", path.display()))?;
    let mut bad = 0;
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).inspect_err(|_| bad += 1).ok())
        .collect();
    if bad > 0 {
        tracing::warn!(bad, "skipped unreadable audit lines");
    }
    Ok(lines)
}

/// Writes the records in `format` to `out` (one JSON object per line); returns how many.
pub fn export(lines: &[Value], format: Format, out: &mut dyn Write) -> anyhow::Result<usize> {
    let records = feedback::export(lines, format);
    for r in &records {
        // Redacted again: a log written before redaction existed, or edited by hand.
        let mut r = r.clone();
        mcp_runtime::redact::redact_json(&mut r);
        writeln!(out, "{r}")?;
    }
    Ok(records.len())
}

/// The agreement table.
pub fn report(lines: &[Value]) -> String {
    let mut out = format!(
        "{:<10} {:<32} {:>6} {:>9} {:>11} {:>9}\n",
        "by", "value", "agree", "disagree", "unlabelled", "agreement"
    );
    for ((dim, value), t) in feedback::report(lines) {
        let rate = t
            .rate()
            .map(|r| format!("{:.0}%", r * 100.0))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{dim:<10} {value:<32} {:>6} {:>9} {:>11} {rate:>9}\n",
            t.agree, t.disagree, t.unlabelled
        ));
    }
    out
}
