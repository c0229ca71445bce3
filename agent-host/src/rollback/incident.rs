//! One incident, from attribution to the pull request: code picks the culprit, the model
//! confirms and explains, host code reverts, opens (or updates) the PR and tells Slack.

use std::time::Duration;

use serde_json::json;

use super::attribution::{self, Candidate, Verdict};
use super::pass::{Report, Rollback, Target, data, short};
use super::state::{Incident, PlaneState};
use crate::agent::{self, Outcome, RunSpec};
use crate::clock::Clock;
use crate::mcp::{Scoped, Toolbox};
use crate::model::Model;
use crate::outbound;
use crate::prompt::{PromptError, Untrusted};

/// Outcomes after a transient failure: the incident is handled again on the next tick.
const RETRY_ONSET: &str = "retry: the onset query failed";
const RETRY_HISTORY: &str = "retry: the config history could not be read";
const RETRY_REVERT: &str = "retry: GitHub failed during the revert";
const RETRY_MODEL: &str = "retry: the model was unavailable";

/// Whether an incident's handling stopped at a transient failure.
pub(super) fn is_retry(outcome: &str) -> bool {
    outcome.starts_with("retry:")
}

impl<M: Model, T: Toolbox, C: Clock> Rollback<M, T, C> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn incident(
        &self,
        target: &Target,
        plane: &mut PlaneState,
        route: &str,
        ratio: f64,
        requests: u64,
        now: i64,
        report: &mut Report,
    ) -> Result<(), PromptError> {
        // A retry after a transient failure continues the same incident and Slack thread.
        let prior = plane.incidents.remove(route);
        let mut inc = Incident {
            opened_at: prior.as_ref().map_or(now, |p| p.opened_at),
            slack_ts: prior.as_ref().and_then(|p| p.slack_ts.clone()),
            outcome: prior.map(|p| p.outcome).unwrap_or_default(),
            ..Incident::default()
        };
        // Route names, errors, commit texts and the model's words are foreign: they reach
        // people only through `outbound` (redacted, no mentions, no code-fence break-out).
        let summary = format!(
            "`{}` on {} answers {:.0}% errors ({requests} requests in the last {} s)",
            outbound::quote(route, 120),
            target.control_plane,
            ratio * 100.0,
            self.settings.window_secs
        );
        let (onset, before, step) = match self.onset(target, route).await {
            Ok(o) => o,
            Err(e) => {
                let e = outbound::quote(&e.to_string(), 300);
                let text = format!(
                    "{summary}. The onset could not be found ({e}); no rollback yet, retried every tick while the errors last."
                );
                self.alert(target, plane, route, inc, RETRY_ONSET, &text, report)
                    .await;
                return Ok(());
            }
        };
        inc.onset = Some(onset.start);
        let onset_text = jiff::Timestamp::from_second(onset.start)
            .map(|t| t.strftime("%Y-%m-%dT%H:%MZ").to_string())
            .unwrap_or_default();
        let bucket = if step <= 60 {
            "first failing minute".to_string()
        } else {
            format!(
                "first failing {}-minute bucket: the run began more than an hour ago, so a deploy anywhere in that bucket counts",
                step / 60
            )
        };
        let mut notes = Vec::new();
        let candidates = match self.candidates(target, now, &mut notes).await {
            Ok(c) => c,
            Err(e) => {
                let e = outbound::quote(&e.to_string(), 300);
                let text = format!(
                    "{summary} since {onset_text}. The config history could not be read ({e}); no rollback yet, retried every tick while the errors last."
                );
                self.alert(target, plane, route, inc, RETRY_HISTORY, &text, report)
                    .await;
                return Ok(());
            }
        };
        let list: Vec<Candidate> = candidates.iter().map(|(c, _)| c.clone()).collect();
        let verdict = attribution::attribute(
            &list,
            &[route.to_string()],
            onset,
            self.settings.max_lead_secs,
            self.settings.skew_secs,
        );
        let (sha, why) = match verdict {
            Verdict::Culprit { sha, why } => (sha, why),
            Verdict::Ambiguous { shas } => {
                let names: Vec<&str> = shas.iter().map(|s| short(s)).collect();
                let text = format!(
                    "{summary} since {onset_text}. Several config commits fit ({}); a human must choose, no rollback opened.",
                    names.join(", ")
                );
                self.alert(
                    target,
                    plane,
                    route,
                    inc,
                    "alerted: ambiguous",
                    &text,
                    report,
                )
                .await;
                return Ok(());
            }
            Verdict::NoCulprit { why } => {
                let text = format!(
                    "{summary} since {onset_text}. No config change explains it: {}. No rollback opened.",
                    outbound::quote(&why.join("; "), 600)
                );
                self.alert(
                    target,
                    plane,
                    route,
                    inc,
                    "alerted: no culprit",
                    &text,
                    report,
                )
                .await;
                return Ok(());
            }
        };
        let commit_text = candidates
            .iter()
            .find(|(c, _)| c.sha == sha)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        let why_text = outbound::quote(&why.join("; "), 600);
        // The model confirms and explains; it cannot pick a commit code ruled out.
        let answer = self
            .ask_model(
                target,
                &Suspect {
                    route,
                    summary: &summary,
                    onset: &onset_text,
                    sha: &sha,
                    why: &why,
                    commit_text: &commit_text,
                },
                report,
            )
            .await?;
        let (confirmed, explanation) = match answer {
            Ok(a) => a,
            Err(reason) => {
                // A provider outage is no refusal: retried every tick while the errors last.
                let text = format!(
                    "{summary} since {onset_text}. Code suspects {} ({why_text}); the model could not review it ({}); retried every tick while the errors last.",
                    short(&sha),
                    outbound::quote(&reason, 300)
                );
                self.alert(target, plane, route, inc, RETRY_MODEL, &text, report)
                    .await;
                return Ok(());
            }
        };
        inc.culprit = Some(sha.clone());
        if !confirmed {
            let text = format!(
                "{summary} since {onset_text}. Code suspects {} ({}), but the review did not confirm it: {}. No rollback opened.",
                short(&sha),
                why_text,
                outbound::quote(&explanation, 600)
            );
            self.alert(
                target,
                plane,
                route,
                inc,
                "alerted: the model did not confirm the culprit",
                &text,
                report,
            )
            .await;
            return Ok(());
        }
        let branch = format!("auto-rollback/{}", short(&sha));
        let body = format!(
            "Automated rollback of {sha}.\n\n**Incident**: {summary}.\n- error ratio before the onset: {:.0}%; now: {:.0}%\n- onset: {onset_text} ({bucket}); a commit counts only if it went live before it, or at most {} s after (clock skew)\n- why this commit: {}\n\n**Explanation** (model-written, from the evidence):\n{}\n\n<details><summary>Commit under revert</summary>\n\n{}\n</details>\n\nMerging is up to a human{}.",
            before * 100.0,
            ratio * 100.0,
            self.settings.skew_secs,
            why_text,
            outbound::block_quote(&explanation, 2000),
            outbound::code_block(&commit_text, 6000),
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
        if open.is_error {
            // Unknown whether a rollback PR is already open: reverting now could only fail on
            // the existing branch or duplicate work. Retried next tick.
            let text = format!(
                "{summary} since {onset_text}. {} is the culprit ({}); GitHub failed while looking for an open rollback PR ({}); retried every tick while the errors last.",
                short(&sha),
                why_text,
                outbound::quote(&open.text, 300)
            );
            self.alert(target, plane, route, inc, RETRY_REVERT, &text, report)
                .await;
            return Ok(());
        }
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
            // The state that knew this incident was lost (a restart without the state file,
            // another replica): people still hear about it, once, with the PR already there.
            let link = inc.pr_url.clone().unwrap_or_else(|| format!("#{number}"));
            let text = format!(
                "Incident (re-opened: the agent's earlier state was lost): {summary} since {onset_text}.\nCulprit: {} in {} ({}).\nThe rollback PR {link} was already open; it was updated. A human merges it.",
                short(&sha),
                target.repo,
                why_text
            );
            let outcome = format!("rollback PR #{number} already open; updated");
            self.alert(target, plane, route, inc, outcome, &text, report)
                .await;
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
            // The tool's refusal says why, and for a conflict which later commits and lines
            // block it: kept whole up to a length a channel can take.
            let failure: String = revert.text.chars().take(1500).collect();
            let shown = outbound::quote(&failure, 1500);
            // GitHub unreachable, rate-limited or failing is not a verdict on the revert.
            let transient = ["unreachable", "rate limit", "answered HTTP 5"]
                .iter()
                .any(|m| failure.contains(m));
            let (outcome, text) = if transient {
                (
                    RETRY_REVERT,
                    format!(
                        "{summary} since {onset_text}. {} is the culprit ({}); GitHub failed while reverting it ({shown}); retried every tick while the errors last.",
                        short(&sha),
                        why_text
                    ),
                )
            } else {
                (
                    "alerted: the revert failed",
                    format!(
                        "{summary} since {onset_text}. {} is the culprit ({}), but it cannot be reverted automatically: {shown}. Nothing was forced.",
                        short(&sha),
                        why_text
                    ),
                )
            };
            self.alert(target, plane, route, inc, outcome, &text, report)
                .await;
            return Ok(());
        }
        inc.revert_sha = revert
            .data
            .as_ref()
            .and_then(|d| d["commit"].as_str())
            .map(str::to_string);
        let method = revert
            .data
            .as_ref()
            .and_then(|d| d["method"].as_str())
            .unwrap_or("unknown")
            .to_string();
        let body = format!("{body}\n\nRevert method: {method}.");
        report
            .actions
            .push(format!("reverted {} on {branch} ({method})", short(&sha)));
        let pr = self
            .tools
            .call(
                "github.pull_create",
                json!({"repo": target.repo, "head": branch, "base": target.branch,
                "title": format!("Roll back {} ({} failing)", short(&sha), outbound::quote(route, 80)), "body": body,
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
            Err(e) => {
                // The revert exists on its branch, but nobody would see it: tell people.
                let e = outbound::quote(&e.to_string(), 300);
                let text = format!(
                    "{summary} since {onset_text}. {} is the culprit ({}); its revert is on `{branch}`, but the pull request could not be opened: {e}. Open it by hand.",
                    short(&sha),
                    why_text
                );
                self.alert(
                    target,
                    plane,
                    route,
                    inc,
                    "alerted: the PR could not be opened",
                    &text,
                    report,
                )
                .await;
                return Ok(());
            }
        }
        inc.outcome = "rollback PR opened".into();
        if self.settings.auto_merge
            && let Some(n) = inc.pr_number
            && self
                .merge_when_green(target, n, inc.revert_sha.as_deref(), report)
                .await
        {
            inc.outcome = "rollback PR merged".into();
        }
        let link = inc.pr_url.clone().unwrap_or_else(|| "(no link)".into());
        let text = format!(
            "Incident: {summary} since {onset_text}.\nCulprit: {} in {} ({}).\nDone: reverted on `{branch}` and opened {link}. A human merges it.",
            short(&sha),
            target.repo,
            why_text
        );
        let ts = self
            .slack(target, inc.slack_ts.clone().as_deref(), &text, report)
            .await;
        inc.slack_ts = inc.slack_ts.or(ts);
        plane.incidents.insert(route.to_string(), inc);
        Ok(())
    }

    /// Ends the incident's handling with a message to people: posted, its ts kept so later
    /// updates (the recovery) reply in its thread, and the incident recorded.
    #[allow(clippy::too_many_arguments)]
    async fn alert(
        &self,
        target: &Target,
        plane: &mut PlaneState,
        route: &str,
        mut inc: Incident,
        outcome: impl Into<String>,
        text: &str,
        report: &mut Report,
    ) {
        let outcome = outcome.into();
        // A retry that fails the same way again says nothing new.
        if inc.outcome != outcome {
            let ts = self
                .slack(target, inc.slack_ts.clone().as_deref(), text, report)
                .await;
            inc.slack_ts = inc.slack_ts.or(ts);
        }
        inc.outcome = outcome;
        plane.incidents.insert(route.to_string(), inc);
    }

    /// The model's confirmation and explanation of `suspect`, or (inner error) why the
    /// provider could not be asked now.
    pub(super) async fn ask_model(
        &self,
        target: &Target,
        suspect: &Suspect<'_>,
        report: &mut Report,
    ) -> Result<Result<(bool, String), String>, PromptError> {
        let sha = suspect.sha;
        let flow = &self.settings.flow;
        let ctx = prompt_context(target, suspect);
        let spec = RunSpec {
            flow: "rollback".into(),
            system: self.prompts.render(&flow.system_template, ctx.clone())?,
            user: self.prompts.render(&flow.user_template, ctx)?,
            answer_schema: flow.answer_schema.clone(),
            structured_output: self.settings.structured_output,
            max_steps: flow.max_steps,
            max_tokens: flow.max_tokens,
            max_completion_tokens: flow.completion_cap(),
            deadline: Duration::from_secs(flow.deadline_secs),
            result_cap: flow.result_cap_bytes,
            temperature: self.settings.temperature,
        };
        let allow = flow.allow_list();
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
        if rec.usage == crate::agent::run::UsageSource::Estimated {
            report.usage = rec.usage;
        }
        let mut line = serde_json::to_value(&rec).unwrap_or_default();
        line["kind"] = json!("rollback_review");
        line["culprit"] = json!(sha);
        if let Err(e) = self.audit.write_value(&line) {
            tracing::error!(error = %e, "could not write the audit record");
        }
        Ok(Ok(match rec.outcome {
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
            Outcome::Unavailable { reason } => return Ok(Err(reason)),
        }))
    }
}

/// The rollback prompts' template context: the configured target and the commit id as they
/// are, every text Konnect, GitHub or a committer wrote (the route, the summary that names it,
/// the attribution's reasons that quote paths, the commit) as [`Untrusted`].
pub fn prompt_context(target: &Target, s: &Suspect<'_>) -> minijinja::Value {
    minijinja::context! {
        control_plane => target.control_plane.as_str(),
        repo => target.repo.as_str(),
        onset => s.onset,
        sha => crate::approval::prompt_context::ident(s.sha),
        route => Untrusted::value(s.route),
        summary => Untrusted::value(s.summary),
        why => Untrusted::values(s.why),
        commit => Untrusted::value(s.commit_text),
    }
}

/// The commit code suspects, and what the model is shown about it.
pub struct Suspect<'a> {
    pub route: &'a str,
    pub summary: &'a str,
    pub onset: &'a str,
    pub sha: &'a str,
    pub why: &'a [String],
    pub commit_text: &'a str,
}
