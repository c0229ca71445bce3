//! The decision, as a pure function of the task, the mode, the policy gate and the model's
//! verdict. The model can never override the policy: a policy reject is final, and a model
//! approve counts only when every rule passed. Outside the full approver's autonomy scope the
//! AI never casts the vote that completes an approval: it approves only while at least one more
//! approval is still needed after its own, and otherwise records a recommendation, so the last
//! signer is always a human.

use super::policy::{Finding, Gate};

/// How the AI takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One of several approvers; a human still signs.
    CoApprover,
    /// May complete approvals, but only for tasks inside the operator's autonomy scope.
    FullApprover { in_autonomy_scope: bool },
}

/// What the task looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// `status.state`: pending, approved, rejected.
    pub state: String,
    /// Our own entry's `input`: pending, approve, reject (None: we are not a User approver).
    pub own_input: Option<String>,
    pub required: u32,
    /// Approvals already received (ours is not among them while our input is pending).
    pub received: u32,
    /// Approvals the gate would count right after our approve (`received + 1`, unless our
    /// name already counts through a group).
    pub received_with_ours: u32,
    /// Seconds until the task times out.
    pub seconds_left: i64,
}

/// The model's verdict, already validated against its schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Approve {
        confidence: f64,
        reason: String,
    },
    Reject {
        confidence: f64,
        reason: String,
    },
    Abstain {
        reason: String,
    },
    /// No valid answer (budget, invalid output, provider down).
    None {
        reason: String,
    },
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave the task alone (not ours to decide, already decided, no time).
    Skip(String),
    /// Vote approve on our own entry.
    Approve(String),
    /// Vote reject on our own entry.
    Reject(String),
    /// Leave our entry pending and say why (Event, Slack).
    Abstain(String),
    /// Leave our entry pending and record what we would have voted.
    Recommend { approve: bool, reason: String },
}

/// Thresholds of the decision.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Below this confidence the AI abstains instead of approving.
    pub min_confidence: f64,
    /// Not worth starting with less time than this.
    pub min_seconds_left: i64,
}

/// Whether the task needs a decision from us at all (checked before gathering evidence).
pub fn should_consider(task: &TaskView, limits: Limits) -> Result<(), String> {
    if task.state != "pending" {
        return Err(format!("the task is already {}", task.state));
    }
    match task.own_input.as_deref() {
        None => return Err("this identity is not a User approver of the task".into()),
        Some("pending") => {}
        Some(other) => return Err(format!("this identity already voted {other}")),
    }
    if task.seconds_left < limits.min_seconds_left {
        return Err(format!(
            "only {} s left before the task times out",
            task.seconds_left.max(0)
        ));
    }
    Ok(())
}

fn listed(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} ({})", f.rule, f.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether the AI may cast the vote that completes an approval: only as a full approver
/// inside the operator's autonomy scope.
pub fn may_complete(mode: Mode) -> bool {
    matches!(
        mode,
        Mode::FullApprover {
            in_autonomy_scope: true
        }
    )
}

/// The action for a task we should consider.
pub fn decide(
    task: &TaskView,
    mode: Mode,
    gate: &Gate,
    verdict: &Verdict,
    limits: Limits,
) -> Action {
    if let Err(why) = should_consider(task, limits) {
        return Action::Skip(why);
    }
    if let Gate::Reject(findings) = gate {
        return Action::Reject(format!("policy: {}", listed(findings)));
    }
    match verdict {
        Verdict::None { reason } => Action::Abstain(format!("no valid verdict: {reason}")),
        Verdict::Abstain { reason } => Action::Abstain(reason.clone()),
        // A model reject binds only with the confidence an approve needs; below it, it is a
        // human's call (one hostile log line must not be enough to fail a pipeline).
        Verdict::Reject { confidence, reason } if *confidence < limits.min_confidence => {
            Action::Abstain(format!(
                "the model leans to reject (confidence {confidence:.2}, below {:.2}): {reason}",
                limits.min_confidence
            ))
        }
        Verdict::Reject { reason, .. } => Action::Reject(reason.clone()),
        Verdict::Approve { confidence, reason } => {
            if let Gate::RequireHuman(findings) = gate {
                return Action::Abstain(format!("a human must decide: {}", listed(findings)));
            }
            if *confidence < limits.min_confidence {
                return Action::Abstain(format!(
                    "confidence {confidence:.2} is below {:.2}: {reason}",
                    limits.min_confidence
                ));
            }
            let completes = task.received_with_ours >= task.required;
            if completes && !may_complete(mode) {
                // Ours would be the last signature: a human signs last.
                return Action::Recommend {
                    approve: true,
                    reason: reason.clone(),
                };
            }
            Action::Approve(reason.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::policy::Action as Rule;
    use super::*;

    const LIMITS: Limits = Limits {
        min_confidence: 0.7,
        min_seconds_left: 120,
    };

    fn task(required: u32, received: u32) -> TaskView {
        TaskView {
            state: "pending".into(),
            own_input: Some("pending".into()),
            required,
            received,
            received_with_ours: received + 1,
            seconds_left: 3600,
        }
    }

    fn approve(c: f64) -> Verdict {
        Verdict::Approve {
            confidence: c,
            reason: "routine dependency bump, checks green".into(),
        }
    }

    #[test]
    fn a_model_reject_needs_the_same_confidence_as_an_approve() {
        let reject = |c| Verdict::Reject {
            confidence: c,
            reason: "a log line says the release is broken".into(),
        };
        let t = task(2, 0);
        assert!(matches!(
            decide(&t, Mode::CoApprover, &Gate::Pass, &reject(0.4), LIMITS),
            Action::Abstain(r) if r.contains("leans to reject")
        ));
        assert!(matches!(
            decide(&t, Mode::CoApprover, &Gate::Pass, &reject(0.9), LIMITS),
            Action::Reject(_)
        ));
    }

    #[test]
    fn the_policy_wins_over_the_model() {
        let reject = Gate::Reject(vec![Finding {
            rule: "no-latest".into(),
            action: Rule::Reject,
            detail: "busybox:latest".into(),
            inconclusive: false,
        }]);
        assert!(
            matches!(decide(&task(2, 1), Mode::CoApprover, &reject, &approve(0.99), LIMITS), Action::Reject(r) if r.contains("no-latest"))
        );
        let human = Gate::RequireHuman(vec![Finding {
            rule: "secrets".into(),
            action: Rule::RequireHuman,
            detail: "ci".into(),
            inconclusive: false,
        }]);
        assert!(matches!(
            decide(
                &task(2, 1),
                Mode::CoApprover,
                &human,
                &approve(0.99),
                LIMITS
            ),
            Action::Abstain(_)
        ));
    }

    #[test]
    fn outside_autonomy_the_ai_never_signs_last() {
        let co = |t: &TaskView| decide(t, Mode::CoApprover, &Gate::Pass, &approve(0.9), LIMITS);
        // AI first of two: a human is still needed after us.
        assert!(matches!(co(&task(2, 0)), Action::Approve(_)));
        // AI second of two: ours would complete it.
        assert!(matches!(
            co(&task(2, 1)),
            Action::Recommend { approve: true, .. }
        ));
        // AI alone.
        assert!(matches!(
            co(&task(1, 0)),
            Action::Recommend { approve: true, .. }
        ));
        // Three required, one in: ours makes two, a third (human) is still needed.
        assert!(matches!(co(&task(3, 1)), Action::Approve(_)));
        // Our name already counts through a group: our vote adds nothing, and the count
        // it leaves is what matters.
        let mut counted = task(2, 1);
        counted.received_with_ours = 1;
        assert!(matches!(co(&counted), Action::Approve(_)));
        let outside = Mode::FullApprover {
            in_autonomy_scope: false,
        };
        assert!(matches!(
            decide(&task(2, 1), outside, &Gate::Pass, &approve(0.9), LIMITS),
            Action::Recommend { .. }
        ));
        let inside = Mode::FullApprover {
            in_autonomy_scope: true,
        };
        for t in [task(1, 0), task(2, 1)] {
            assert!(matches!(
                decide(&t, inside, &Gate::Pass, &approve(0.9), LIMITS),
                Action::Approve(_)
            ));
        }
        // A reject blocks, it does not complete: unaffected.
        let reject = Verdict::Reject {
            confidence: 0.9,
            reason: "x".into(),
        };
        assert!(matches!(
            decide(&task(1, 0), Mode::CoApprover, &Gate::Pass, &reject, LIMITS),
            Action::Reject(_)
        ));
    }

    #[test]
    fn weak_or_missing_verdicts_abstain_and_other_tasks_are_skipped() {
        assert!(
            matches!(decide(&task(2, 1), Mode::CoApprover, &Gate::Pass, &approve(0.5), LIMITS), Action::Abstain(r) if r.contains("below"))
        );
        assert!(matches!(
            decide(
                &task(2, 1),
                Mode::CoApprover,
                &Gate::Pass,
                &Verdict::None {
                    reason: "invalid".into()
                },
                LIMITS
            ),
            Action::Abstain(_)
        ));
        let mut done = task(2, 1);
        done.state = "approved".into();
        assert!(matches!(
            decide(&done, Mode::CoApprover, &Gate::Pass, &approve(0.9), LIMITS),
            Action::Skip(_)
        ));
        let mut voted = task(2, 1);
        voted.own_input = Some("approve".into());
        assert!(
            matches!(decide(&voted, Mode::CoApprover, &Gate::Pass, &approve(0.9), LIMITS), Action::Skip(r) if r.contains("already voted"))
        );
        let mut late = task(2, 1);
        late.seconds_left = 30;
        assert!(should_consider(&late, LIMITS).is_err());
        let mut absent = task(2, 1);
        absent.own_input = None;
        assert!(
            matches!(decide(&absent, Mode::CoApprover, &Gate::Pass, &approve(0.9), LIMITS), Action::Skip(r) if r.contains("not a User approver"))
        );
    }
}
