//! One review of one ApprovalTask, level-triggered: given the task as it is now, do the next
//! thing and nothing twice. A final task we decided on gets its human feedback; a task we
//! already decided gets its pending write applied; a pending task whose pending entry is ours
//! gets evidence, policy, (maybe) the model, a decision, a committed record, then the write.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::decide::{self, Action, Limits, Mode, Verdict};
use super::evidence::{self, Evidence};
use super::feedback::{self, DECISION, FEEDBACK};
use super::policy::{Finding, Gate};
use super::policy_file::{PolicyError, PolicyFile};
use super::store::{Record, Store, StoreError};
use super::{apply, facts, patch, prompt_context, verdict};
use crate::agent::{self, RunRecord, RunSpec};
use crate::audit::{AuditLog, Metrics};
use crate::clock::Clock;
use crate::config::FlowConfig;
use crate::mcp::{Scoped, Toolbox};
use crate::model::Model;
use crate::prompt::{PromptError, Prompts};

/// How the AI takes part, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeSetting {
    CoApprover,
    FullApprover,
}

/// Fixed settings of an approver.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The username we vote as (`system:serviceaccount:NS:NAME` in a cluster).
    pub identity: String,
    pub mode: ModeSetting,
    pub limits: Limits,
    /// Decide and report, but write nothing (no record, no vote, no Event, no Slack).
    pub dry_run: bool,
    /// Slack channel told when a human must act.
    pub notify_channel: Option<String>,
    /// Model name, for records and metrics.
    pub model_name: String,
    /// The `approval` flow: templates, budgets, the verdict schema, the model's tools.
    pub flow: FlowConfig,
    pub structured_output: bool,
    pub temperature: Option<f32>,
}

/// Everything a review needs.
pub struct Approver<M, T, C> {
    pub model: M,
    /// Every tool host code may call (evidence, Slack); the model sees `settings.flow.tools`.
    pub tools: T,
    pub kube: kube::Client,
    pub store: Store,
    pub policy: PolicyFile,
    pub prompts: Prompts,
    pub audit: AuditLog,
    pub metrics: Arc<Metrics>,
    pub clock: C,
    pub settings: Settings,
}

/// What a review did.
#[derive(Debug, Clone, PartialEq)]
pub enum Review {
    /// Nothing to do: not ours, already voted, final without a decision of ours.
    Ignored(String),
    /// A new decision (in dry-run mode: not recorded, not applied).
    Decided {
        record: Record,
        /// The patch that was (or in dry-run would be) sent, for votes.
        patch: Option<Value>,
        model_calls: u32,
        policy: Vec<Finding>,
    },
    /// An earlier decision whose write had not happened, applied now.
    Resumed(Record),
    /// Already decided earlier; nothing to do until the task is final.
    Waiting(Record),
    /// The task is final: the human outcome turned into a reward.
    FollowedUp(Record),
}

/// Why a review could not finish (it will be retried).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("the task has no {0}")]
    Malformed(&'static str),
    #[error("evidence: {0}")]
    Evidence(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The vote could not be sent yet (API unreachable, 429/5xx, votes racing ours); the
    /// decision stays recorded and unapplied, and the review is retried.
    #[error("the vote could not be sent yet: {0}")]
    Transient(String),
    /// Evidence could not be gathered for a passing reason (rate limit, an upstream down, a
    /// timeout) while the task still has time: nothing was decided, the review is retried
    /// after `after` (what the upstream asked for, when it said).
    #[error("evidence is temporarily unavailable ({why}); retried")]
    Retry {
        why: String,
        after: Option<Duration>,
    },
}

/// Which task, as its metadata says.
#[derive(Clone, Copy)]
struct TaskId<'a> {
    namespace: &'a str,
    name: &'a str,
    uid: &'a str,
}

fn field<'a>(task: &'a Value, path: &str, what: &'static str) -> Result<&'a str, ReviewError> {
    task.pointer(path)
        .and_then(Value::as_str)
        .ok_or(ReviewError::Malformed(what))
}

fn action_name(a: &Action) -> (&'static str, String) {
    match a {
        Action::Skip(r) => ("skip", r.clone()),
        Action::Approve(r) => ("approve", r.clone()),
        Action::Reject(r) => ("reject", r.clone()),
        Action::Abstain(r) => ("abstain", r.clone()),
        Action::Recommend { approve, reason } => (
            if *approve {
                "recommend-approve"
            } else {
                "recommend-reject"
            },
            reason.clone(),
        ),
    }
}

fn summary(gate: &Gate) -> String {
    let list = |f: &[Finding]| {
        f.iter()
            .map(|x| format!("{} ({})", x.rule, x.detail))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match gate {
        Gate::Pass => "every rule passed".into(),
        Gate::RequireHuman(f) => format!(
            "these rules require a human, so you cannot approve: {}",
            list(f)
        ),
        Gate::Reject(f) => format!("rejected: {}", list(f)),
    }
}

impl<M: Model, T: Toolbox, C: Clock> Approver<M, T, C> {
    /// Reviews `task` (an ApprovalTask as JSON).
    pub async fn review(&self, task: &Value) -> Result<Review, ReviewError> {
        let id = TaskId {
            namespace: field(task, "/metadata/namespace", "metadata.namespace")?,
            name: field(task, "/metadata/name", "metadata.name")?,
            uid: field(task, "/metadata/uid", "metadata.uid")?,
        };
        let identity = &self.settings.identity;
        // The webhook never lets the approvers list change, so a task that does not list us
        // never had a record: no need to ask the store.
        let Some(entry) = patch::own_entry(task, identity) else {
            return Ok(Review::Ignored(format!(
                "{identity} is not a User approver of this task"
            )));
        };
        let existing = self.store.get(id.uid).await?;
        if patch::state(task) != "pending" {
            return match existing {
                Some(rec) if rec.action != "skip" => self.follow_up(task, rec).await,
                Some(rec) => {
                    if !self.settings.dry_run {
                        self.store.delete(&rec.uid).await?;
                    }
                    Ok(Review::Ignored(
                        "the task ended without a decision of ours".into(),
                    ))
                }
                None => Ok(Review::Ignored(format!(
                    "the task is already {}",
                    patch::state(task)
                ))),
            };
        }
        if let Some(rec) = existing {
            return self.resume(task, rec).await;
        }
        if entry.input != "pending" {
            return Ok(Review::Ignored(format!("we already voted {}", entry.input)));
        }
        self.decide(task, &id, entry.index).await
    }

    async fn decide(
        &self,
        task: &Value,
        id: &TaskId<'_>,
        index: usize,
    ) -> Result<Review, ReviewError> {
        let TaskId {
            namespace,
            name,
            uid,
        } = *id;
        let now = self.clock.now();
        let policy = self.policy.current()?;
        let ev = evidence::gather(&self.tools, namespace, name, policy.needs_firing_alerts())
            .await
            .map_err(ReviewError::Evidence)?;
        let mut view = facts::task_view(&ev.context, &self.settings.identity);
        // Our entry as the watch saw it, not as the server's identity sees it.
        view.own_input = Some("pending".into());
        // A fault is not evidence: while the task has time, wait and retry rather than decide
        // on what is missing (an outage must not turn into abstentions on every deploy). When
        // time runs out the review goes on, and the missing facts make it abstain.
        if !ev.transient.is_empty() && decide::should_consider(&view, self.settings.limits).is_ok()
        {
            return Err(ReviewError::Retry {
                why: ev.transient.join("; "),
                after: ev.retry_after,
            });
        }
        let f = facts::facts(
            &ev.context,
            ev.commit.as_ref(),
            ev.pull.as_ref(),
            ev.alerts.as_ref(),
            ev.firing.as_ref(),
            now.as_second(),
        );
        let gate = policy.gate(&f);
        let mode = match self.settings.mode {
            ModeSetting::CoApprover => Mode::CoApprover,
            ModeSetting::FullApprover => Mode::FullApprover {
                in_autonomy_scope: policy.autonomy.covers(&f),
            },
        };
        let limits = self.settings.limits;
        let considered = decide::should_consider(&view, limits);
        let run = match (&considered, &gate) {
            (Ok(()), Gate::Pass | Gate::RequireHuman(_)) => {
                Some(self.ask_model(&ev, &view, &gate, &f.pipeline).await?)
            }
            // Not worth a model call: no time left, or the policy already rejected.
            _ => None,
        };
        // The model provider failing is a fault like any upstream's: retried while the task
        // has time, never an abstention recorded as the AI's decision.
        if let Some(agent::Outcome::Unavailable { reason }) = run.as_ref().map(|r| &r.outcome) {
            if let Some(r) = &run {
                self.metrics.record(r, 0);
            }
            return Err(ReviewError::Retry {
                why: reason.clone(),
                after: None,
            });
        }
        let verdict = run
            .as_ref()
            .map(|r| verdict::from_outcome(&r.outcome))
            .unwrap_or(Verdict::None {
                reason: "the model was not asked".into(),
            });
        let action = decide::decide(&view, mode, &gate, &verdict, limits);
        let (kind, reason) = action_name(&action);
        let stamp = now.as_second();
        let record = Record {
            // The uid's last group is its most distinctive part (random in a real cluster).
            audit_id: format!("appr-{}-{stamp}", uid.rsplit('-').next().unwrap_or(uid)),
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: uid.to_string(),
            pipeline: f.pipeline.clone(),
            model: self.settings.model_name.clone(),
            action: kind.to_string(),
            reason,
            entry: Some(index),
            may_complete: decide::may_complete(mode),
            applied: None,
            reward: None,
            decided_at: now.to_string(),
        };
        let findings = match &gate {
            Gate::Pass => Vec::new(),
            Gate::RequireHuman(f) | Gate::Reject(f) => f.clone(),
        };
        let message = patch::message(&record.reason, &record.audit_id);
        let identity = &self.settings.identity;
        let vote_patch = match kind {
            "approve" if !record.may_complete => Some(patch::guarded_not_last(
                task, index, identity, kind, &message,
            )),
            "approve" | "reject" => Some(patch::guarded(uid, index, identity, kind, &message)),
            _ => None,
        };
        let model_calls = run.as_ref().map_or(0, |r| r.steps);
        if let Some(r) = &run {
            self.metrics.record(r, 0);
        }
        self.audit_decision(&record, &findings, &ev, run.as_ref());
        if self.settings.dry_run {
            return Ok(Review::Decided {
                record,
                patch: vote_patch,
                model_calls,
                policy: findings,
            });
        }
        if !self.store.create(&record).await? {
            return Ok(Review::Ignored(
                "another instance recorded a decision first".into(),
            ));
        }
        let record = self.apply(record, false).await?;
        self.metrics.count(
            "approval_decisions_total",
            &[
                ("namespace", &record.namespace),
                ("pipeline", &record.pipeline),
                ("action", &record.action),
            ],
            1.0,
        );
        Ok(Review::Decided {
            record,
            patch: vote_patch,
            model_calls,
            policy: findings,
        })
    }

    async fn ask_model(
        &self,
        ev: &Evidence,
        view: &decide::TaskView,
        gate: &Gate,
        pipeline: &str,
    ) -> Result<RunRecord, ReviewError> {
        let flow = &self.settings.flow;
        let t = &ev.context["task"];
        let mode = match self.settings.mode {
            ModeSetting::CoApprover => "co-approver",
            ModeSetting::FullApprover => "full-approver",
        };
        let system = self.prompts.render(
            &flow.system_template,
            prompt_context::system(&summary(gate), mode),
        )?;
        let user = self.prompts.render(
            &flow.user_template,
            prompt_context::task(
                t["namespace"].as_str().unwrap_or_default(),
                t["name"].as_str().unwrap_or_default(),
                pipeline,
                view,
                mcp_runtime::fence::inner(t["description_untrusted"].as_str().unwrap_or("")),
                ev,
            ),
        )?;
        // Finish with time to spare before the task times out.
        let spare = (view.seconds_left - self.settings.limits.min_seconds_left / 2).max(1) as u64;
        let spec = RunSpec {
            flow: "approval".into(),
            system,
            user,
            answer_schema: flow.answer_schema.clone(),
            structured_output: self.settings.structured_output,
            max_steps: flow.max_steps,
            max_tokens: flow.max_tokens,
            max_completion_tokens: flow.completion_cap(),
            deadline: Duration::from_secs(flow.deadline_secs.min(spare)),
            result_cap: flow.result_cap_bytes,
            temperature: self.settings.temperature,
        };
        let allow = flow.allow_list();
        let tools = Scoped {
            pool: &self.tools,
            allow: &allow,
        };
        Ok(agent::run(&self.model, &tools, &spec).await)
    }

    /// Performs the write of a committed record (unless `voted`: the vote already landed) and
    /// stores what happened.
    async fn apply(&self, mut rec: Record, voted: bool) -> Result<Record, ReviewError> {
        // The switch as it is now wins over the one at decision time: a vote resumed after
        // the host was turned into a co-approver must not complete a task either.
        if matches!(self.settings.mode, ModeSetting::CoApprover) {
            rec.may_complete = false;
        }
        let applied = match rec.action.as_str() {
            "approve" | "reject" if voted => "patched (found applied after a restart)".into(),
            "approve" | "reject" => {
                match apply::vote(&self.kube, &rec, &self.settings.identity).await {
                    apply::Vote::Sent(outcome) => outcome,
                    apply::Vote::Transient(why) => return Err(ReviewError::Transient(why)),
                    apply::Vote::WouldComplete(why) => {
                        // Approvals arrived since the decision: ours would now be the last
                        // signature, so it becomes a recommendation.
                        rec.action = "recommend-approve".into();
                        rec.reason = format!("{why}; {}", rec.reason);
                        format!("withheld; {}", self.note(&rec).await)
                    }
                }
            }
            _ => self.note(&rec).await,
        };
        if applied.starts_with("refused") {
            self.metrics.count(
                "approval_votes_refused_total",
                &[("namespace", &rec.namespace), ("action", &rec.action)],
                1.0,
            );
        }
        if let Err(e) = apply::event(&self.kube, &rec, &applied, self.clock.now()).await {
            tracing::warn!(error = %e, task = %rec.name, "could not record the Event");
        }
        tracing::info!(task = %format!("{}/{}", rec.namespace, rec.name), action = %rec.action,
            applied = %applied, audit = %rec.audit_id, "approval decision");
        rec.applied = Some(applied);
        self.store.update(&rec).await?;
        Ok(rec)
    }

    /// Tells Slack (when configured) that a human has to act; returns what happened.
    async fn note(&self, rec: &Record) -> String {
        match &self.settings.notify_channel {
            Some(channel) => match apply::notify(&self.tools, channel, rec).await {
                Ok(()) => "noted; Slack told".into(),
                Err(e) => format!("noted; Slack failed: {}", crate::outbound::quote(&e, 200)),
            },
            None => "noted".into(),
        }
    }

    async fn resume(&self, task: &Value, rec: Record) -> Result<Review, ReviewError> {
        if rec.applied.is_some() || self.settings.dry_run {
            return Ok(Review::Waiting(rec));
        }
        // Stopped after the vote landed but before the record said so: the entry carries this
        // decision's audit id. Sending the vote again would only be refused.
        let landed = rec.entry.is_some_and(|i| {
            let e = &task["spec"]["approvers"][i];
            e["input"] == rec.action.as_str()
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&rec.audit_id))
        });
        Ok(Review::Resumed(self.apply(rec, landed).await?))
    }

    async fn follow_up(&self, task: &Value, mut rec: Record) -> Result<Review, ReviewError> {
        let human = feedback::human_decision(task, &self.settings.identity);
        let reward = feedback::reward(rec.stance(), human);
        let messages: Vec<Value> = task["spec"]["approvers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["name"] != self.settings.identity.as_str())
            .filter_map(|a| a["message"].as_str().map(|m| json!(m)))
            .collect();
        let line = json!({
            "kind": FEEDBACK, "audit_id": rec.audit_id, "namespace": rec.namespace,
            "name": rec.name, "pipeline": rec.pipeline, "model": rec.model, "ai": rec.action,
            "human": human, "human_messages": messages, "reward": reward,
            "state": patch::state(task),
            "snapshot": {"approvers": task["spec"]["approvers"], "responses": task["status"]["approversResponse"]},
            "at": self.clock.now().to_string(),
        });
        if self.settings.dry_run {
            rec.reward = Some(reward);
            return Ok(Review::FollowedUp(rec));
        }
        if let Err(e) = self.audit.write_value(&line) {
            tracing::error!(error = %e, "could not write the feedback record");
        }
        let outcome = match reward {
            1 => "agree",
            -1 => "disagree",
            _ => "unlabelled",
        };
        self.metrics.count(
            "approval_feedback_total",
            &[
                ("namespace", &rec.namespace),
                ("pipeline", &rec.pipeline),
                ("model", &rec.model),
                ("outcome", outcome),
            ],
            1.0,
        );
        rec.reward = Some(reward);
        // The feedback line holds everything now; a final task is never decided on again.
        self.store.delete(&rec.uid).await?;
        Ok(Review::FollowedUp(rec))
    }

    fn audit_decision(
        &self,
        rec: &Record,
        findings: &[Finding],
        ev: &Evidence,
        run: Option<&RunRecord>,
    ) {
        let line = json!({
            "kind": DECISION, "audit_id": rec.audit_id, "namespace": rec.namespace,
            "name": rec.name, "uid": rec.uid, "pipeline": rec.pipeline, "model": rec.model,
            "action": rec.action, "reason": rec.reason, "dry_run": self.settings.dry_run,
            "policy": findings.iter().map(|f| json!({"rule": f.rule, "detail": f.detail,
                "action": format!("{:?}", f.action),
                "outcome": if f.inconclusive { "inconclusive" } else { "violated" }})).collect::<Vec<_>>(),
            "evidence_notes": ev.notes, "run": run, "at": rec.decided_at,
        });
        if let Err(e) = self.audit.write_value(&line) {
            tracing::error!(error = %e, "could not write the decision record");
        }
    }
}
