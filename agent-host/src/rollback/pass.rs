//! One detection pass over one watched control plane, through the MCP servers only: Konnect or
//! Prometheus for the numbers ([`super::signal`]), GitHub for the config history, the revert and the pull request, Slack for
//! people. Code decides whether there is an incident and which commit is to blame; the model
//! (read-only tools) only confirms and explains. Every write is host code and skipped in dry
//! runs.

use serde::Deserialize;
use serde_json::Value;

use super::detector::{self, Limits, Signal};
use super::state::FlowState;
use crate::audit::{AuditLog, Metrics};
use crate::clock::Clock;
use crate::config::FlowConfig;
use crate::mcp::Toolbox;
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
    /// Where the traffic numbers come from (default Konnect; `control_plane` then only names
    /// the target for Prometheus).
    #[serde(default)]
    pub source: super::signal::Source,
    /// How the Prometheus source reads its counter.
    #[serde(default)]
    pub prometheus: super::signal::PromSignal,
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
    /// ... and at most this long after the start of the first failing minute (clock skew,
    /// errors beginning within the minute of the deploy).
    pub skew_secs: i64,
    pub auto_merge: bool,
    pub dry_run: bool,
    pub flow: FlowConfig,
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
    /// Whether `prompt_tokens` is what the provider reported or (partly) an estimate.
    pub usage: crate::agent::run::UsageSource,
    /// Every known route after this pass: its status, error ratio and requests.
    pub routes: Vec<RouteLine>,
    /// This pass's failed Konnect query, with how many failed in a row and the limit after
    /// which the plane is inconclusive.
    pub query_error: Option<String>,
}

/// One route in a [`Report`].
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLine {
    pub route: String,
    pub status: detector::Status,
    pub ratio: f64,
    pub requests: u64,
    /// What was done about its open incident.
    pub incident: Option<String>,
}

/// A tool's structured data, or its error text (shortened) when it failed.
pub(super) fn data(out: &crate::mcp::ToolOutcome) -> Result<&Value, String> {
    if out.is_error {
        return Err(out.text.chars().take(300).collect());
    }
    out.data
        .as_ref()
        .ok_or_else(|| "the tool returned no structured data".to_string())
}

/// An RFC 3339 time as epoch seconds.
pub(super) fn ts(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// The usual seven-character form of a commit id.
pub(super) fn short(sha: &str) -> &str {
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
        let samples = self.measure(target, now).await;
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
                    let retry = plane
                        .incidents
                        .get(&route)
                        .is_some_and(|i| super::incident::is_retry(&i.outcome));
                    if retry || !plane.incidents.contains_key(&route) {
                        // Opened before a restart lost the incident, or stopped at a transient
                        // failure: handle it (again) now.
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
                                .then(|| Some((i.pr_number?, i.revert_sha.clone())))
                                .flatten()
                        });
                        if let Some((n, pinned)) = open
                            && self
                                .merge_when_green(target, n, pinned.as_deref(), &mut report)
                                .await
                            && let Some(i) = plane.incidents.get_mut(&route)
                        {
                            i.outcome = "rollback PR merged".into();
                            let thread = i.slack_ts.clone();
                            let text = format!(
                                "Update: the rollback PR #{n} passed its checks and was merged (auto_merge)."
                            );
                            self.slack(target, thread.as_deref(), &text, &mut report)
                                .await;
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
                        "inconclusive: {errors} traffic queries failed in a row ({last}); no incident is opened on missing data"
                    ));
                }
            }
        }
        if let Err(e) = &samples {
            let errors = plane.detector.query_errors;
            let limit = self.settings.limits.consecutive_error_limit;
            report.query_error = Some(if errors > limit {
                format!("inconclusive: {errors} queries failed in a row, the last with: {e}")
            } else {
                format!("query failed ({errors} in a row; inconclusive after {limit}): {e}")
            });
        }
        report.routes = plane
            .detector
            .routes
            .iter()
            .map(|(route, r)| RouteLine {
                route: route.clone(),
                status: detector::status(r, &self.settings.limits),
                ratio: r.last_ratio,
                requests: r.last_requests,
                incident: plane.incidents.get(route).map(|i| i.outcome.clone()),
            })
            .collect();
        Ok(report)
    }
}
