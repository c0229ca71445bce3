//! Carrying a decision out, by host code: the guarded JSON Patch of our own entry for a vote,
//! a Kubernetes Event on the ApprovalTask for every outcome, and a Slack note (through the Slack
//! server, when a channel is configured) when a human has to act. Conflicts and webhook denials
//! are outcomes to record, not crashes.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::patch;
use super::store::Record;
use crate::mcp::Toolbox;

/// The ApprovalTask resource (openshift-pipelines manual-approval-gate).
pub fn approval_tasks() -> ApiResource {
    ApiResource {
        group: "openshift-pipelines.org".into(),
        version: "v1alpha1".into(),
        api_version: "openshift-pipelines.org/v1alpha1".into(),
        kind: "ApprovalTask".into(),
        plural: "approvaltasks".into(),
    }
}

/// What became of a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vote {
    /// Sent: `patched`, or `refused: ...` with what the API said and the task's state.
    Sent(String),
    /// Not sent: approvals arrived since the decision and ours would now complete the task,
    /// which only a full approver inside its autonomy scope may do. Says what was counted.
    WouldComplete(String),
    /// Not sent yet: the API could not be reached or answered 429/5xx, or other votes kept
    /// landing. Nothing is recorded as applied, so the review is retried.
    Transient(String),
}

/// How often a vote that must not complete the task is tried again when another vote lands
/// between our read and our write (each try reads the task anew and counts again).
const NOT_LAST_TRIES: usize = 3;

/// Sends the vote in `rec` as the guarded patch; returns what happened, for the record. An
/// approve that may not complete the task (`rec.may_complete` false) is checked against the
/// task as it is now and sent with `test`s of the whole approver list, so it can never be
/// the vote that completes the approval, even when a human votes at the same moment.
pub async fn vote(client: &kube::Client, rec: &Record, identity: &str) -> Vote {
    let Some(index) = rec.entry else {
        return Vote::Sent("refused: no approver entry recorded".into());
    };
    let input = if rec.action == "approve" {
        "approve"
    } else {
        "reject"
    };
    let message = patch::message(&rec.reason, &rec.audit_id);
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &rec.namespace, &approval_tasks());
    if input == "reject" || rec.may_complete {
        let body = patch::guarded(&rec.uid, index, identity, input, &message);
        return match send(&api, rec, identity, body).await {
            Sent::Done(outcome) | Sent::Moved(outcome) => Vote::Sent(outcome),
            Sent::Transient(why) => Vote::Transient(why),
        };
    }
    let mut last = String::new();
    for _ in 0..NOT_LAST_TRIES {
        let task = match api.get(&rec.name).await {
            Ok(t) => as_value(&t),
            Err(kube::Error::Api(s)) if s.code == 404 => {
                return Vote::Sent("refused: the task is gone".into());
            }
            Err(e) => return Vote::Transient(format!("could not read the task: {e}")),
        };
        if task["metadata"]["uid"] != rec.uid.as_str() {
            return Vote::Sent(
                "refused: the task was re-created since the decision (another run)".into(),
            );
        }
        let approvers = task["spec"]["approvers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let required = patch::approvals_required(&task);
        let with_ours = patch::approvals_counted(&approvers, "users", Some(identity)) as u64;
        // Counted whatever `status.state` says: the webhook refuses votes only once the state
        // is approved or rejected, and the controller writes it after the votes.
        if with_ours >= required {
            return Vote::WouldComplete(format!(
                "our approve would be approval {with_ours} of {required} and complete the task; a human signs last"
            ));
        }
        let body = patch::guarded_not_last(&task, index, identity, input, &message);
        match send(&api, rec, identity, body).await {
            Sent::Done(outcome) => return Vote::Sent(outcome),
            Sent::Transient(why) => return Vote::Transient(why),
            // Another entry moved under us (a `test` failed) with ours still pending: count
            // again on a fresh read.
            Sent::Moved(outcome) => last = outcome,
        }
    }
    Vote::Transient(format!(
        "other votes kept landing while ours was sent ({NOT_LAST_TRIES} tries; last: {last})"
    ))
}

/// The result of one patch.
enum Sent {
    /// `patched`, or a final refusal (the webhook, our entry no longer pending, the task gone).
    Done(String),
    /// A `test` failed while the task and our entry are still pending: something else moved.
    Moved(String),
    /// Unreachable, timed out, 429 or 5xx.
    Transient(String),
}

/// Sends one guarded patch.
async fn send(api: &Api<DynamicObject>, rec: &Record, identity: &str, body: Value) -> Sent {
    let patch_doc: json_patch::Patch = match serde_json::from_value(body) {
        Ok(p) => p,
        Err(e) => return Sent::Done(format!("refused: {e}")),
    };
    let r = api
        .patch(
            &rec.name,
            &PatchParams::default(),
            &Patch::Json::<()>(patch_doc),
        )
        .await;
    match r {
        Ok(_) => Sent::Done("patched".into()),
        // Code 0: a body that is no Kubernetes Status (a proxy's error page): what happened
        // is unknown, so it is retried like an outage, never taken as a refusal.
        Err(kube::Error::Api(s)) if s.code == 429 || s.code >= 500 || s.code == 0 => {
            Sent::Transient(format!("HTTP {} {}", s.code, s.message))
        }
        Err(kube::Error::Api(s)) => {
            // 409/422: a `test` failed (the list moved, a vote landed first, another run);
            // 400: the webhook refused (already final); 404: the run was deleted.
            let now = api.get_opt(&rec.name).await.ok().flatten();
            let now = now.as_ref().and_then(|o| serde_json::to_value(o).ok());
            let current = now
                .as_ref()
                .map(|v| {
                    let own = patch::own_entry(v, identity)
                        .map(|e| e.input)
                        .unwrap_or_else(|| "absent".into());
                    format!("; task {}, our entry {own}", patch::state(v))
                })
                .unwrap_or_default();
            let outcome = format!("refused: HTTP {} {}{current}", s.code, s.message);
            let still_ours = now.as_ref().is_some_and(|v| {
                v["metadata"]["uid"] == rec.uid.as_str()
                    && patch::state(v) == "pending"
                    && patch::own_entry(v, identity).is_some_and(|e| e.input == "pending")
            });
            if matches!(s.code, 409 | 422) && still_ours {
                Sent::Moved(outcome)
            } else {
                Sent::Done(outcome)
            }
        }
        Err(e) => Sent::Transient(e.to_string()),
    }
}

/// The Event's reason and type for an action and what became of it: a vote the API refused
/// is reported as refused, never as the vote it meant to be.
fn reason_of(action: &str, applied: &str) -> (&'static str, &'static str) {
    if matches!(action, "approve" | "reject") && applied.starts_with("refused") {
        return ("AIVoteRefused", "Warning");
    }
    match action {
        "approve" => ("AIApproved", "Normal"),
        "reject" => ("AIRejected", "Warning"),
        "recommend-approve" => ("AIRecommendsApproval", "Normal"),
        "recommend-reject" => ("AIRecommendsRejection", "Warning"),
        "skip" => ("AISkipped", "Warning"),
        _ => ("AIAbstained", "Normal"),
    }
}

/// Records the decision as an Event on the task.
pub async fn event(
    client: &kube::Client,
    rec: &Record,
    applied: &str,
    now: jiff::Timestamp,
) -> Result<(), kube::Error> {
    let (reason, kind) = reason_of(&rec.action, applied);
    let api: Api<Event> = Api::namespaced(client.clone(), &rec.namespace);
    let ev = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{}", rec.name, rec.audit_id)),
            namespace: Some(rec.namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("openshift-pipelines.org/v1alpha1".into()),
            kind: Some("ApprovalTask".into()),
            name: Some(rec.name.clone()),
            namespace: Some(rec.namespace.clone()),
            uid: Some(rec.uid.clone()),
            ..ObjectReference::default()
        },
        reason: Some(reason.into()),
        message: Some(format!(
            "{} ({applied}) [audit {}]",
            crate::outbound::quote(&rec.reason, 300),
            rec.audit_id
        )),
        type_: Some(kind.into()),
        source: Some(EventSource {
            component: Some("agent-host".into()),
            host: None,
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        count: Some(1),
        action: Some(rec.action.clone()),
        reporting_component: Some("agent-host".into()),
        reporting_instance: Some(std::env::var("HOSTNAME").unwrap_or_else(|_| "agent-host".into())),
        ..Event::default()
    };
    match api.create(&PostParams::default(), &ev).await {
        Ok(_) => Ok(()),
        // Already recorded (a resumed decision): fine.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Tells people in Slack that a human has to act (abstain, recommendation, no time left).
pub async fn notify<T: Toolbox>(tools: &T, channel: &str, rec: &Record) -> Result<(), String> {
    let text = format!(
        "*ApprovalTask {}/{}* needs a human: AI {} — {}\n(pipeline {}, audit `{}`)",
        rec.namespace,
        rec.name,
        rec.action,
        crate::outbound::quote(&rec.reason, 300),
        rec.pipeline,
        rec.audit_id
    );
    let out = tools
        .call(
            "slack.message_post",
            json!({"channel": channel, "text": text}),
        )
        .await;
    if out.is_error { Err(out.text) } else { Ok(()) }
}

/// The task as JSON (what the pure functions read).
pub fn as_value(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::reason_of;

    #[test]
    fn a_refused_vote_is_reported_as_refused() {
        assert_eq!(reason_of("approve", "patched").0, "AIApproved");
        assert_eq!(
            reason_of("approve", "refused: HTTP 409 Conflict").0,
            "AIVoteRefused"
        );
        assert_eq!(
            reason_of("reject", "refused: the task is gone").0,
            "AIVoteRefused"
        );
        assert_eq!(reason_of("abstain", "noted").0, "AIAbstained");
    }
}
