//! One detection pass over one watched control plane, through the MCP servers only: Konnect for
//! the numbers, GitHub for the config history, the revert and the pull request, Slack for
//! people. Code decides whether there is an incident and which commit is to blame; the model
//! (read-only tools) only confirms and explains. Every write is host code and skipped in dry
//! runs.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::attribution::{self, Candidate, Onset, Verdict};
use super::deck;
use super::detector::{self, Limits, Sample, Signal};
use super::state::{FlowState, Incident, PlaneState};
use crate::agent::{self, Outcome, RunSpec};
use crate::audit::{AuditLog, Metrics};
use crate::clock::Clock;
use crate::config::FlowConfig;
use crate::mcp::{AllowList, Scoped, Toolbox};
use crate::model::Model;
use crate::prompt::{PromptError, Prompts};

/// One watched control plane and its decK repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub control_plane: String,
    /// `owner/name` of the decK repository (`GIT_REPO`).
    pub repo: String,
    /// Its deployed branch (`GIT_BRANCH`).
    #[serde(default = "default_branch")]
    pub branch: String,
    /// Path of the decK file.
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub slack_channel: Option<String>,
}

fn default_branch() -> String {
    "main".into()
}
fn default_path() -> String {
    "kong.yaml".into()
}

/// Fixed settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// Each measurement covers the last this many seconds (an absolute Konnect window, so a
    /// new failure shows in the next tick instead of diluted in a 15-minute average).
    pub window_secs: i64,
    /// Commits older than this are not candidates.
    pub lookback_secs: i64,
    /// A candidate may have gone live at most this long before the onset.
    pub max_lead_secs: i64,
    pub auto_merge: bool,
    pub dry_run: bool,
    pub flow: FlowConfig,
    pub model_name: String,
    pub structured_output: bool,
    pub temperature: Option<f32>,
}

/// The flow's parts.
pub struct Rollback<M, T, C> {
    pub model: M,
    pub tools: T,
    pub prompts: Prompts,
    pub audit: AuditLog,
    pub metrics: std::sync::Arc<Metrics>,
    pub clock: C,
    pub settings: Settings,
}

/// What one pass did, for people and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub signals: Vec<String>,
    /// One line per thing done (or, in a dry run, that would be done).
    pub actions: Vec<String>,
    pub model_calls: u32,
    pub prompt_tokens: u64,
}

fn data(out: &crate::mcp::ToolOutcome) -> Result<&Value, String> {
    if out.is_error {
        return Err(out.text.chars().take(300).collect());
    }
    out.data
        .as_ref()
        .ok_or_else(|| "the tool returned no structured data".to_string())
}

fn ts(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

impl<M: Model, T: Toolbox, C: Clock> Rollback<M, T, C> {
    /// Runs one pass for `target`, updating `state`.
    pub async fn pass(
        &self,
        target: &Target,
        state: &mut FlowState,
    ) -> Result<Report, PromptError> {
        let mut report = Report::default();
        let now = self.clock.now().as_second();
        let plane = state
            .planes
            .entry(target.control_plane.clone())
            .or_default();
        let window = match (
            jiff::Timestamp::from_second(now - self.settings.window_secs.max(1)),
            jiff::Timestamp::from_second(now),
        ) {
            (Ok(s), Ok(e)) => format!("{s}/{e}"),
            _ => "15m".to_string(),
        };
        let out = self
            .tools
            .call(
                "konnect.traffic_health",
                json!({"control_plane": target.control_plane, "by": "route",
                    "window": window, "include_4xx": self.settings.limits.include_4xx}),
            )
            .await;
        let samples: Result<Vec<Sample>, String> = data(&out).map(|d| {
            d["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| Sample {
                    route: r["name"].as_str().unwrap_or_default().to_string(),
                    requests: r["requests"].as_u64().unwrap_or(0),
                    errors_5xx: r["errors_5xx"].as_u64().unwrap_or(0),
                    errors_4xx: r["errors_4xx"].as_u64().unwrap_or(0),
                })
                .collect()
        });
        let signals = detector::observe(
            &mut plane.detector,
            &self.settings.limits,
            samples.as_deref().map_err(String::as_str),
            now,
        );
        self.metrics.count(
            "rollback_ticks_total",
            &[
                ("control_plane", &target.control_plane),
                (
                    "result",
                    if samples.is_ok() {
                        "measured"
                    } else {
                        "query_error"
                    },
                ),
            ],
            1.0,
        );
        for s in signals {
            report.signals.push(format!("{s:?}"));
            match s {
                Signal::Opened {
                    route,
                    ratio,
                    requests,
                } => {
                    self.metrics.count(
                        "rollback_incidents_total",
                        &[("control_plane", &target.control_plane), ("route", &route)],
                        1.0,
                    );
                    self.incident(target, plane, &route, ratio, requests, now, &mut report)
                        .await?;
                }
                Signal::Ongoing { route, .. } => {
                    if !plane.incidents.contains_key(&route) {
                        // Opened before a restart lost the incident: handle it now.
                        let r = plane
                            .detector
                            .routes
                            .get(&route)
                            .cloned()
                            .unwrap_or_default();
                        self.incident(
                            target,
                            plane,
                            &route,
                            r.last_ratio,
                            r.last_requests,
                            now,
                            &mut report,
                        )
                        .await?;
                    } else if self.settings.auto_merge && !self.settings.dry_run {
                        // The PR's checks may have finished since the last tick.
                        let open = plane.incidents.get(&route).and_then(|i| {
                            (i.outcome == "rollback PR opened")
                                .then_some(i.pr_number)
                                .flatten()
                        });
                        if let Some(n) = open
                            && self.merge_when_green(target, n, &mut report).await
                            && let Some(i) = plane.incidents.get_mut(&route)
                        {
                            i.outcome = "rollback PR merged".into();
                        }
                    }
                }
                Signal::Recovered { route, ratio } => {
                    if let Some(inc) = plane.incidents.remove(&route) {
                        let text = format!(
                            "Recovered: `{route}` errors are back under the threshold ({:.0}% now). {}",
                            ratio * 100.0,
                            inc.pr_url
                                .as_deref()
                                .map(|u| format!(
                                    "The rollback PR {u} can be merged or closed by a human."
                                ))
                                .unwrap_or_default()
                        );
                        self.slack(target, inc.slack_ts.as_deref(), &text, &mut report)
                            .await;
                    }
                }
                Signal::Inconclusive { errors, last } => {
                    report.actions.push(format!(
                        "inconclusive: {errors} Konnect queries failed in a row ({last}); no incident is opened on missing data"
                    ));
                }
            }
        }
        Ok(report)
    }

    /// Onset of `route`'s errors: the first bucket of the current failing run.
    async fn onset(&self, target: &Target, route: &str) -> Result<(Onset, f64), String> {
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
    async fn candidates(
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
                    committed_at,
                    live_at,
                    live_source,
                    touched,
                },
                commit.text.clone(),
            ));
        }
        Ok(found)
    }

    async fn file(&self, target: &Target, git_ref: &str) -> Result<Value, String> {
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

    #[allow(clippy::too_many_arguments)]
    async fn incident(
        &self,
        target: &Target,
        plane: &mut PlaneState,
        route: &str,
        ratio: f64,
        requests: u64,
        now: i64,
        report: &mut Report,
    ) -> Result<(), PromptError> {
        let mut inc = Incident {
            opened_at: now,
            ..Incident::default()
        };
        let summary = format!(
            "`{route}` on {} answers {:.0}% errors ({requests} requests in the last {} s)",
            target.control_plane,
            ratio * 100.0,
            self.settings.window_secs
        );
        let (onset, before) = match self.onset(target, route).await {
            Ok(o) => o,
            Err(e) => {
                inc.outcome = format!("alerted: onset unknown ({e})");
                self.slack(
                    target,
                    None,
                    &format!(
                        "{summary}. The onset could not be found ({e}); no rollback attempted."
                    ),
                    report,
                )
                .await;
                plane.incidents.insert(route.to_string(), inc);
                return Ok(());
            }
        };
        inc.onset = Some(onset.start);
        let onset_text = jiff::Timestamp::from_second(onset.start)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut notes = Vec::new();
        let candidates = match self.candidates(target, now, &mut notes).await {
            Ok(c) => c,
            Err(e) => {
                inc.outcome = format!("alerted: config history unavailable ({e})");
                self.slack(target, None, &format!("{summary} since {onset_text}. The config history could not be read ({e}); no rollback attempted."), report).await;
                plane.incidents.insert(route.to_string(), inc);
                return Ok(());
            }
        };
        let list: Vec<Candidate> = candidates.iter().map(|(c, _)| c.clone()).collect();
        let verdict = attribution::attribute(
            &list,
            &[route.to_string()],
            onset,
            self.settings.max_lead_secs,
        );
        let (sha, why) = match verdict {
            Verdict::Culprit { sha, why } => (sha, why),
            Verdict::Ambiguous { shas } => {
                inc.outcome = "alerted: ambiguous".into();
                let names: Vec<&str> = shas.iter().map(|s| short(s)).collect();
                self.slack(target, None, &format!("{summary} since {onset_text}. Several config commits fit ({}); a human must choose, no rollback opened.", names.join(", ")), report).await;
                plane.incidents.insert(route.to_string(), inc);
                return Ok(());
            }
            Verdict::NoCulprit { why } => {
                inc.outcome = "alerted: no culprit".into();
                self.slack(target, None, &format!("{summary} since {onset_text}. No config change explains it: {}. No rollback opened.", why.join("; ")), report).await;
                plane.incidents.insert(route.to_string(), inc);
                return Ok(());
            }
        };
        let commit_text = candidates
            .iter()
            .find(|(c, _)| c.sha == sha)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        // The model confirms and explains; it cannot pick a commit code ruled out.
        let (confirmed, explanation) = self
            .ask_model(
                target,
                route,
                &summary,
                &onset_text,
                &sha,
                &why,
                &commit_text,
                report,
            )
            .await?;
        inc.culprit = Some(sha.clone());
        if !confirmed {
            inc.outcome = "alerted: the model did not confirm the culprit".into();
            self.slack(target, None, &format!("{summary} since {onset_text}. Code suspects {} ({}), but the review did not confirm it: {}. No rollback opened.", short(&sha), why.join("; "), explanation), report).await;
            plane.incidents.insert(route.to_string(), inc);
            return Ok(());
        }
        let branch = format!("auto-rollback/{}", short(&sha));
        let body = format!(
            "Automated rollback of {sha}.\n\n**Incident**: {summary}.\n- error ratio before the onset: {:.0}%; now: {:.0}%\n- onset: {onset_text} (first failing 5-minute bucket)\n- why this commit: {}\n\n**Explanation** (model-written, from the evidence):\n{}\n\n<details><summary>Commit under revert</summary>\n\n```\n{}\n```\n</details>\n\nMerging is up to a human{}.",
            before * 100.0,
            ratio * 100.0,
            why.join("; "),
            crate::prompt::fence("model explanation", &explanation, 2000),
            commit_text.chars().take(6000).collect::<String>(),
            if self.settings.auto_merge {
                " unless the checks pass first (auto_merge is on)"
            } else {
                ""
            },
        );
        if self.settings.dry_run {
            report.actions.push(format!(
                "would revert {} on {branch} and open a pull request into {}",
                short(&sha),
                target.branch
            ));
            inc.outcome = "dry run".into();
            plane.incidents.insert(route.to_string(), inc);
            return Ok(());
        }
        // De-duplicate across ticks and restarts: an open PR from the same branch is updated.
        let open = self
            .tools
            .call(
                "github.pulls_list",
                json!({"repo": target.repo, "state": "open", "head": branch}),
            )
            .await;
        let existing = data(&open)
            .ok()
            .and_then(|d| d["pulls"].as_array()?.first().cloned());
        if let Some(pr) = existing {
            let number = pr["number"].as_u64().unwrap_or(0);
            let _ = self
                .tools
                .call(
                    "github.pull_comment",
                    json!({"repo": target.repo, "number": number,
                    "body": format!("The incident is still open: {summary}.")}),
                )
                .await;
            report
                .actions
                .push(format!("updated the open rollback PR #{number}"));
            inc.pr_number = Some(number);
            inc.pr_url = pr["url"].as_str().map(str::to_string);
            inc.outcome = format!("rollback PR #{number} already open; updated");
            plane.incidents.insert(route.to_string(), inc);
            return Ok(());
        }
        let revert = self
            .tools
            .call(
                "github.commit_revert",
                json!({"repo": target.repo, "sha": sha, "base": target.branch, "branch": branch}),
            )
            .await;
        if revert.is_error {
            inc.outcome = "alerted: the revert failed".into();
            self.slack(target, None, &format!("{summary} since {onset_text}. {} is the culprit ({}), but it cannot be reverted automatically: {}. Nothing was forced.", short(&sha), why.join("; "), revert.text.chars().take(300).collect::<String>()), report).await;
            plane.incidents.insert(route.to_string(), inc);
            return Ok(());
        }
        report
            .actions
            .push(format!("reverted {} on {branch}", short(&sha)));
        let pr = self
            .tools
            .call(
                "github.pull_create",
                json!({"repo": target.repo, "head": branch, "base": target.branch,
                "title": format!("Roll back {} ({route} failing)", short(&sha)), "body": body,
                "labels": ["auto-rollback", "incident"]}),
            )
            .await;
        match data(&pr) {
            Ok(d) => {
                inc.pr_number = d["number"].as_u64();
                inc.pr_url = d["url"].as_str().map(str::to_string);
                report
                    .actions
                    .push(format!("opened PR #{}", inc.pr_number.unwrap_or(0)));
            }
            Err(e) => report.actions.push(format!("could not open the PR: {e}")),
        }
        inc.outcome = "rollback PR opened".into();
        if self.settings.auto_merge
            && let Some(n) = inc.pr_number
            && self.merge_when_green(target, n, report).await
        {
            inc.outcome = "rollback PR merged".into();
        }
        let link = inc.pr_url.clone().unwrap_or_else(|| "(no link)".into());
        let text = format!(
            "Incident: {summary} since {onset_text}.\nCulprit: {} in {} ({}).\nDone: reverted on `{branch}` and opened {link}. A human merges it.",
            short(&sha),
            target.repo,
            why.join("; ")
        );
        inc.slack_ts = self.slack(target, None, &text, report).await;
        inc.slack_channel = target.slack_channel.clone();
        plane.incidents.insert(route.to_string(), inc);
        Ok(())
    }

    /// Merges PR `number` when every check on it succeeded; `true` when merged.
    async fn merge_when_green(&self, target: &Target, number: u64, report: &mut Report) -> bool {
        let pr = self
            .tools
            .call(
                "github.pull_get",
                json!({"repo": target.repo, "number": number}),
            )
            .await;
        let green = data(&pr).ok().and_then(|d| {
            let checks = d["checks"].as_array()?;
            Some(
                !checks.is_empty()
                    && checks
                        .iter()
                        .all(|c| c["completed"] == true && c["conclusion"] == "success"),
            )
        });
        if green == Some(true) {
            let m = self
                .tools
                .call(
                    "github.pull_merge",
                    json!({"repo": target.repo, "number": number}),
                )
                .await;
            report.actions.push(if m.is_error {
                format!("auto-merge of #{number} failed: {}", m.text)
            } else {
                format!("auto-merged #{number}")
            });
            !m.is_error
        } else {
            report
                .actions
                .push(format!("auto-merge of #{number} waits for green checks"));
            false
        }
    }

    /// Posts to the target's channel (in `thread` if given); returns the message ts.
    async fn slack(
        &self,
        target: &Target,
        thread: Option<&str>,
        text: &str,
        report: &mut Report,
    ) -> Option<String> {
        let Some(channel) = &target.slack_channel else {
            report.actions.push(format!("(no Slack channel) {text}"));
            return None;
        };
        if self.settings.dry_run {
            report
                .actions
                .push(format!("would post to {channel}: {text}"));
            return None;
        }
        let out = self
            .tools
            .call(
                "slack.message_post",
                json!({"channel": channel, "text": text, "thread_ts": thread.unwrap_or("")}),
            )
            .await;
        match data(&out) {
            Ok(d) => {
                report.actions.push(format!(
                    "posted to {channel}{}",
                    if thread.is_some() {
                        " (thread reply)"
                    } else {
                        ""
                    }
                ));
                d["ts"].as_str().map(str::to_string)
            }
            Err(e) => {
                report.actions.push(format!("Slack post failed: {e}"));
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn ask_model(
        &self,
        target: &Target,
        route: &str,
        summary: &str,
        onset: &str,
        sha: &str,
        why: &[String],
        commit_text: &str,
        report: &mut Report,
    ) -> Result<(bool, String), PromptError> {
        let flow = &self.settings.flow;
        let ctx = json!({"control_plane": target.control_plane, "route": route, "summary": summary,
            "onset": onset, "sha": sha, "repo": target.repo, "why": why, "commit": commit_text});
        let spec = RunSpec {
            flow: "rollback".into(),
            system: self.prompts.render(
                &flow.system_template,
                minijinja::Value::from_serialize(&ctx),
            )?,
            user: self
                .prompts
                .render(&flow.user_template, minijinja::Value::from_serialize(&ctx))?,
            answer_schema: flow.answer_schema.clone(),
            structured_output: self.settings.structured_output,
            max_steps: flow.max_steps,
            max_tokens: flow.max_tokens,
            deadline: Duration::from_secs(flow.deadline_secs),
            result_cap: flow.result_cap_bytes,
            temperature: self.settings.temperature,
        };
        let allow = AllowList(flow.tools.clone());
        let rec = agent::run(
            &self.model,
            &Scoped {
                pool: &self.tools,
                allow: &allow,
            },
            &spec,
        )
        .await;
        self.metrics.record(&rec, 0);
        report.model_calls += rec.steps;
        report.prompt_tokens += rec.prompt_tokens;
        let mut line = serde_json::to_value(&rec).unwrap_or_default();
        line["kind"] = json!("rollback_review");
        line["culprit"] = json!(sha);
        if let Err(e) = self.audit.write_value(&line) {
            tracing::error!(error = %e, "could not write the audit record");
        }
        Ok(match rec.outcome {
            Outcome::Answer { value } => {
                let confirmed = value["confirm"] == true && value["culprit"].as_str() == Some(sha);
                (
                    confirmed,
                    value["explanation"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            }
            Outcome::NoDecision { reason } => (false, format!("no answer ({reason})")),
        })
    }
}
