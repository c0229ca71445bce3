//! `security_alerts`: Dependabot, code scanning and secret scanning alerts, counted by severity.
//! A secret's value never enters the result; a feature that is off is reported, not fatal.

use mcp_runtime::budget::{self, Table};
use mcp_runtime::fence::untrusted;
use mcp_runtime::{ToolError, ToolResult};
use rmcp::model::CallToolResult;
use serde_json::Value;

use crate::client::with_query;
use crate::server::*;

impl GitHubServer {
    pub(crate) async fn alerts(&self, a: AlertsArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let kinds: Vec<&str> = match a.kind.trim() {
            "" | "all" => vec!["dependabot", "code-scanning", "secret-scanning"],
            "dependabot" => vec!["dependabot"],
            "code_scanning" | "code-scanning" => vec!["code-scanning"],
            "secret_scanning" | "secret-scanning" => vec!["secret-scanning"],
            _ => {
                return Err(ToolError::invalid(
                    "kind",
                    "dependabot, code_scanning, secret_scanning or empty for all",
                ));
            }
        };
        let state = match a.state.trim() {
            "" => "open",
            s => s,
        };
        let mut out = String::new();
        let mut data = serde_json::Map::new();
        for kind in kinds {
            let url = with_query(
                &format!("{}/{kind}/alerts", repo.path()),
                &[("state", state.into()), ("per_page", "100".into())],
            );
            match self.gh.get::<Vec<Value>>(&url).await {
                Ok(alerts) => {
                    out.push_str(&summarise_alerts(kind, state, &alerts));
                    let severities: Vec<String> =
                        alerts.iter().map(|a| severity(kind, a)).collect();
                    data.insert(
                        kind.into(),
                        serde_json::json!({"available": true, "severities": severities}),
                    );
                }
                // One disabled feature must not hide the others.
                Err(e @ (ToolError::NotFound(_) | ToolError::Upstream { status: 403, .. })) => {
                    out.push_str(&format!("{kind}: unavailable ({e})\n"));
                    data.insert(kind.into(), serde_json::json!({"available": false}));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(budget::text_with_data(
            format!("{repo} security alerts ({state})\n{out}"),
            serde_json::Value::Object(data),
        ))
    }
}

/// An alert's severity; secret scanning alerts have none and count as critical.
fn severity(kind: &str, a: &Value) -> String {
    [
        &a["security_advisory"]["severity"],
        &a["security_vulnerability"]["severity"],
        &a["rule"]["security_severity_level"],
        &a["rule"]["severity"],
    ]
    .iter()
    .find_map(|v| v.as_str())
    .unwrap_or(if kind == "secret-scanning" {
        "critical"
    } else {
        "unknown"
    })
    .to_string()
}

/// Counts by severity and one row per alert. Secret scanning values are never included: only
/// the secret type and validity.
fn summarise_alerts(kind: &str, state: &str, alerts: &[Value]) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut t = Table::new(["#", "SEVERITY", "WHAT", "WHERE", "FIX"]);
    for a in alerts {
        let sev = severity(kind, a);
        *counts.entry(sev.clone()).or_default() += 1;
        let (what, place, fix) = match kind {
            "dependabot" => (
                format!(
                    "{} {}: {}",
                    a["dependency"]["package"]["name"].as_str().unwrap_or("?"),
                    a["security_advisory"]["ghsa_id"].as_str().unwrap_or(""),
                    a["security_advisory"]["summary"].as_str().unwrap_or("")
                ),
                a["dependency"]["manifest_path"]
                    .as_str()
                    .unwrap_or("-")
                    .to_string(),
                a["security_vulnerability"]["first_patched_version"]["identifier"]
                    .as_str()
                    .map(|v| format!(">= {v}"))
                    .unwrap_or_else(|| "-".into()),
            ),
            "code-scanning" => (
                format!(
                    "{}: {}",
                    a["rule"]["id"].as_str().unwrap_or("?"),
                    a["rule"]["description"].as_str().unwrap_or("")
                ),
                format!(
                    "{}:{}",
                    a["most_recent_instance"]["location"]["path"]
                        .as_str()
                        .unwrap_or("?"),
                    a["most_recent_instance"]["location"]["start_line"]
                        .as_u64()
                        .unwrap_or(0)
                ),
                "-".into(),
            ),
            _ => (
                format!(
                    "{} (validity {})",
                    a["secret_type_display_name"]
                        .as_str()
                        .or(a["secret_type"].as_str())
                        .unwrap_or("secret"),
                    a["validity"].as_str().unwrap_or("unknown")
                ),
                "-".into(),
                "rotate the secret".into(),
            ),
        };
        t.row([
            a["number"].as_u64().unwrap_or(0).to_string(),
            sev,
            what,
            place,
            fix,
        ]);
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    if alerts.is_empty() {
        return format!("{kind}: no {state} alerts\n");
    }
    format!(
        "{kind}: {}\n{}\n",
        summary.join(", "),
        untrusted(&format!("{kind} alerts"), &t.render())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_never_reach_the_summary() {
        let alerts = vec![
            serde_json::json!({"number": 1, "secret_type": "aws_access_key_id",
            "secret": "AKIAIOSFODNN7EXAMPLE", "validity": "active"}),
        ];
        let s = summarise_alerts("secret-scanning", "open", &alerts);
        assert!(!s.contains("AKIAIOSFODNN7EXAMPLE"), "{s}");
        assert!(
            s.contains("1 critical") && s.contains("aws_access_key_id"),
            "{s}"
        );
    }
}
