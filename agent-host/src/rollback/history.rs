//! Reading the evidence of an incident: when the route's errors began (the first failing bucket
//! of its series) and the config commits that could have caused them, with when each went live
//! and what it changed in the decK file.

use serde_json::{Value, json};

use super::attribution::{Candidate, Onset};
use super::deck;
use super::pass::{Rollback, Target, data, short, ts};
use crate::clock::Clock;
use crate::mcp::Toolbox;
use crate::model::Model;

impl<M: Model, T: Toolbox, C: Clock> Rollback<M, T, C> {
    /// Onset of `route`'s errors: the first bucket of the current failing run.
    pub(super) async fn onset(&self, target: &Target, route: &str) -> Result<(Onset, f64), String> {
        let out = self
            .tools
            .call(
                "konnect.traffic_health",
                json!({"control_plane": target.control_plane, "route": route, "series": true,
                    "window": "6h", "granularity": "fiveMinutely"}),
            )
            .await;
        let d = data(&out)?;
        let buckets: Vec<(i64, u64, u64)> = d["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| {
                Some((
                    ts(&b["time"])?,
                    b["requests"].as_u64()?,
                    b["errors_5xx"].as_u64()?,
                ))
            })
            .collect();
        let failing = |b: &(i64, u64, u64)| {
            b.1 > 0 && b.2 as f64 / b.1 as f64 >= self.settings.limits.threshold
        };
        let step = buckets
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .min()
            .unwrap_or(300)
            .max(1);
        let mut first = None;
        for b in buckets.iter().rev() {
            if failing(b) {
                first = Some(b);
            } else if b.1 > 0 {
                break;
            }
        }
        let first = first.ok_or("no failing bucket in the last 6 hours")?;
        let before = buckets
            .iter()
            .rev()
            .find(|b| b.0 < first.0 && b.1 > 0)
            .map(|b| b.2 as f64 / b.1 as f64)
            .unwrap_or(0.0);
        Ok((
            Onset {
                start: first.0,
                end: first.0 + step,
            },
            before,
        ))
    }

    /// The config commits of the lookback window, with when each went live and what it touched.
    pub(super) async fn candidates(
        &self,
        target: &Target,
        now: i64,
        notes: &mut Vec<String>,
    ) -> Result<Vec<(Candidate, String)>, String> {
        let since = jiff::Timestamp::from_second(now - self.settings.lookback_secs)
            .map_err(|e| e.to_string())?;
        let out = self
            .tools
            .call(
                "github.commits_list",
                json!({"repo": target.repo, "branch": target.branch, "path": target.path,
                    "since": since.to_string(), "limit": 20}),
            )
            .await;
        let commits = data(&out)?["commits"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut found = Vec::new();
        for c in commits {
            let Some(sha) = c["sha"].as_str() else {
                continue;
            };
            let committed_at = ts(&c["date"]).unwrap_or(now);
            let runs = self
                .tools
                .call(
                    "github.workflow_runs",
                    json!({"repo": target.repo, "sha": sha, "event": "push"}),
                )
                .await;
            let live = data(&runs).ok().and_then(|d| {
                d["runs"]
                    .as_array()?
                    .iter()
                    .filter(|r| r["status"] == "completed" && r["conclusion"] == "success")
                    .filter_map(|r| Some((ts(&r["updated_at"])?, r["id"].as_u64().unwrap_or(0))))
                    .min()
            });
            let (live_at, live_source) = match live {
                Some((t, id)) => (t, format!("deploy run {id} finished")),
                None => (
                    committed_at,
                    "commit time; no successful deploy run found".to_string(),
                ),
            };
            let commit = self
                .tools
                .call(
                    "github.commit_get",
                    json!({"repo": target.repo, "sha": sha, "patch_lines": 40}),
                )
                .await;
            let Ok(cd) = data(&commit) else {
                notes.push(format!("commit {} unreadable: {}", short(sha), commit.text));
                continue;
            };
            let parent = cd["parents"]
                .get(0)
                .and_then(Value::as_str)
                .map(str::to_string);
            let after = match self.file(target, sha).await {
                Ok(a) => a,
                Err(e) => {
                    notes.push(format!("{} skipped: {e}", short(sha)));
                    continue;
                }
            };
            let before = match &parent {
                Some(p) => self.file(target, p).await.ok(),
                None => None,
            };
            let touched = deck::touched(before.as_ref(), &after);
            found.push((
                Candidate {
                    sha: sha.to_string(),
                    live_at,
                    live_source,
                    touched,
                },
                commit.text.clone(),
            ));
        }
        Ok(found)
    }

    pub(super) async fn file(&self, target: &Target, git_ref: &str) -> Result<Value, String> {
        let out = self
            .tools
            .call(
                "github.file_get",
                json!({"repo": target.repo, "path": target.path, "ref": git_ref}),
            )
            .await;
        let text = data(&out)?["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        deck::parse(&text).map_err(|e| format!("{} at {}: {e}", target.path, short(git_ref)))
    }
}
