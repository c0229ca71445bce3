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
    /// Onset of `route`'s errors: the first failing minute of the current failing run, from
    /// the last hour's minute series (Konnect allows minute buckets for windows up to 12 h),
    /// judged by the detector's own rules (`min_requests`, `threshold`, 4xx when counted), so a
    /// stray error on low traffic neither starts nor extends the run. A run reaching back past
    /// the hour is placed in the 6-hour five-minute series instead (coarser, and said so).
    /// Returns the onset, the error ratio before it, and the bucket size in seconds.
    pub(super) async fn onset(
        &self,
        target: &Target,
        route: &str,
    ) -> Result<(Onset, f64, i64), String> {
        let (buckets, step) = self.series(target, route, false).await?;
        let limits = &self.settings.limits;
        match first_failing(&buckets, step, limits) {
            Some((onset, before)) if buckets.first().is_none_or(|b| b.0 < onset.start) => {
                Ok((onset, before, step))
            }
            _ => {
                let (coarse, step) = self.series(target, route, true).await?;
                first_failing(&coarse, step, limits)
                    .map(|(o, b)| (o, b, step))
                    .ok_or_else(|| "no failing minute in the last 6 hours".to_string())
            }
        }
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
            // An unreadable piece of evidence makes the candidate unknown (attribution then
            // blames nobody), never a silent skip that would leave another commit the only fit.
            let unknown_candidate = |why: String, live_at: i64, source: &str| Candidate {
                sha: sha.to_string(),
                live_at,
                live_source: source.to_string(),
                touched: Default::default(),
                unknown: Some(why),
            };
            let runs = self
                .tools
                .call(
                    "github.workflow_runs",
                    json!({"repo": target.repo, "sha": sha, "event": "push"}),
                )
                .await;
            let Ok(run_data) = data(&runs) else {
                found.push((
                    unknown_candidate(
                        format!(
                            "its deploy runs are unreadable: {}",
                            runs.text.chars().take(160).collect::<String>()
                        ),
                        committed_at,
                        "unknown",
                    ),
                    String::new(),
                ));
                continue;
            };
            let listed: Vec<&Value> = run_data["runs"].as_array().into_iter().flatten().collect();
            let live = listed
                .iter()
                .filter(|r| r["status"] == "completed" && r["conclusion"] == "success")
                .filter_map(|r| Some((ts(&r["updated_at"])?, r["id"].as_u64().unwrap_or(0))))
                .min();
            let (live_at, live_source) = match live {
                Some((t, id)) => (t, format!("deploy run {id} finished")),
                // Runs exist but none succeeded (still running, failed): not live yet.
                None if !listed.is_empty() => {
                    notes.push(format!(
                        "{} is not live: no successful deploy run yet",
                        short(sha)
                    ));
                    continue;
                }
                None => (committed_at, "commit time; no deploy run found".to_string()),
            };
            let commit = self
                .tools
                .call(
                    "github.commit_get",
                    json!({"repo": target.repo, "sha": sha, "patch_lines": 40}),
                )
                .await;
            let Ok(cd) = data(&commit) else {
                found.push((
                    unknown_candidate(
                        format!(
                            "it is unreadable: {}",
                            commit.text.chars().take(160).collect::<String>()
                        ),
                        live_at,
                        &live_source,
                    ),
                    String::new(),
                ));
                continue;
            };
            let parent = cd["parents"]
                .get(0)
                .and_then(Value::as_str)
                .map(str::to_string);
            let after = match self.file(target, sha).await {
                Ok(a) => a,
                Err(e) => {
                    found.push((
                        unknown_candidate(
                            format!("its {} is unreadable: {e}", target.path),
                            live_at,
                            &live_source,
                        ),
                        String::new(),
                    ));
                    continue;
                }
            };
            // The parent's version is what the commit changed from: unreadable, the change is
            // unknown (never "everything was added", which would blame it for anything).
            let (before, unknown) = match &parent {
                Some(p) => match self.file(target, p).await {
                    Ok(b) => (Some(b), None),
                    Err(e) => (
                        None,
                        Some(format!("its parent's {} is unreadable: {e}", target.path)),
                    ),
                },
                None => (None, None),
            };
            let touched = deck::touched(before.as_ref(), &after);
            found.push((
                Candidate {
                    sha: sha.to_string(),
                    live_at,
                    live_source,
                    touched,
                    unknown,
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

/// The first bucket of the failing run that reaches the newest bucket, with the error ratio of
/// the last measured bucket before it. A bucket fails as a detector measurement does: at least
/// `min_requests` requests and an error ratio at `threshold` or above. Buckets with less
/// traffic are neither failing nor healthy (skipped); the run ends, going back, at the first
/// healthy bucket. `None`: the newest measured bucket is not failing.
pub fn first_failing(
    buckets: &[(i64, u64, u64)],
    step: i64,
    limits: &super::detector::Limits,
) -> Option<(Onset, f64)> {
    let ratio = |b: &(i64, u64, u64)| b.2 as f64 / b.1.max(1) as f64;
    let measured = |b: &&(i64, u64, u64)| b.1 >= limits.min_requests.max(1);
    let mut first = None;
    let mut before = 0.0;
    for b in buckets.iter().rev().filter(measured) {
        if ratio(b) >= limits.threshold {
            first = Some(b.0);
        } else {
            before = ratio(b);
            break;
        }
    }
    first.map(|start| {
        (
            Onset {
                start,
                end: start + step,
            },
            before,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollback::detector::Limits;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn the_onset_is_the_first_failing_minute_and_low_traffic_moves_nothing() {
        let l = limits();
        // 120 requests a minute; errors from 09:57 (bucket 597 in minutes); at 09:50 one
        // request that failed (low traffic: not evidence).
        let mut b = vec![];
        for m in 590..600 {
            let errors = if m >= 597 { 120 } else { 0 };
            b.push((m * 60, 120, errors));
        }
        b.insert(0, (589 * 60, 1, 1));
        let (onset, before) = first_failing(&b, 60, &l).unwrap();
        assert_eq!((onset.start, onset.end, before), (597 * 60, 598 * 60, 0.0));
        // A low-traffic bucket inside the run does not end it.
        b.insert(9, (596 * 60 + 30, 2, 0));
        assert_eq!(first_failing(&b, 60, &l).unwrap().0.start, 597 * 60);
        // Healthy now: no onset.
        b.push((600 * 60, 120, 0));
        assert!(first_failing(&b, 60, &l).is_none());
    }
}
