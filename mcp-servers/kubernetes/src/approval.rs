//! The one write this server performs: its own ApprovalTask vote, as a guarded JSON Patch.
//!
//! The patch tests the entry's name and `pending` input before replacing it, so it can only
//! ever change this identity's entry, and fails cleanly (422) if the list moved underneath.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The `spec.approvers[].input` value.
    pub fn input(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// Why this identity may not vote on a task, decided before any write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteRefusal {
    #[error("the ApprovalTask is already {0}; nothing can change it")]
    Final(String),
    #[error("{0} is not listed as a User approver of this ApprovalTask")]
    NotAnApprover(String),
    #[error("{identity} already answered `{input}`; a vote cannot be changed")]
    AlreadyVoted { identity: String, input: String },
}

/// Whether an approver entry is a `User`: the gate reads a missing or empty `type` as `User`
/// (manual-approval-gate's `DefaultedApproverType`; its CLI writes `"type": ""`).
pub fn is_user(approver: &Value) -> bool {
    matches!(approver["type"].as_str(), None | Some("" | "User"))
}

/// Finds this identity's entry and checks that a vote is possible. Returns its index.
pub fn own_entry(task: &Value, identity: &str) -> Result<usize, VoteRefusal> {
    let state = task["status"]["state"].as_str().unwrap_or("pending");
    if state != "pending" {
        return Err(VoteRefusal::Final(state.to_string()));
    }
    let approvers = task["spec"]["approvers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let index = approvers
        .iter()
        .position(|a| a["name"] == identity && is_user(a))
        .ok_or_else(|| VoteRefusal::NotAnApprover(identity.to_string()))?;
    let input = approvers[index]["input"].as_str().unwrap_or("pending");
    if input != "pending" {
        return Err(VoteRefusal::AlreadyVoted {
            identity: identity.to_string(),
            input: input.to_string(),
        });
    }
    Ok(index)
}

/// The guarded JSON Patch for entry `index` (see `shared/docs/approvaltask.md`).
pub fn guarded_patch(index: usize, identity: &str, decision: Decision, message: &str) -> Value {
    let base = format!("/spec/approvers/{index}");
    json!([
        {"op": "test", "path": format!("{base}/name"), "value": identity},
        {"op": "test", "path": format!("{base}/input"), "value": "pending"},
        {"op": "replace", "path": format!("{base}/input"), "value": decision.input()},
        {"op": "add", "path": format!("{base}/message"), "value": message},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(state: &str, input: &str) -> Value {
        json!({"spec": {"approvers": [{"name": "alice", "type": "User", "input": "pending"},
            {"name": "sa", "type": "User", "input": input}]}, "status": {"state": state}})
    }

    #[test]
    fn finds_own_pending_entry() {
        assert_eq!(own_entry(&task("pending", "pending"), "sa"), Ok(1));
        assert_eq!(
            own_entry(&task("approved", "pending"), "sa"),
            Err(VoteRefusal::Final("approved".into()))
        );
        assert_eq!(
            own_entry(&task("pending", "pending"), "bob"),
            Err(VoteRefusal::NotAnApprover("bob".into()))
        );
        assert!(matches!(
            own_entry(&task("pending", "approve"), "sa"),
            Err(VoteRefusal::AlreadyVoted { .. })
        ));
    }

    #[test]
    fn patch_is_exactly_the_guarded_form() {
        assert_eq!(
            guarded_patch(1, "sa", Decision::Approve, "AI: ok"),
            json!([
                {"op": "test", "path": "/spec/approvers/1/name", "value": "sa"},
                {"op": "test", "path": "/spec/approvers/1/input", "value": "pending"},
                {"op": "replace", "path": "/spec/approvers/1/input", "value": "approve"},
                {"op": "add", "path": "/spec/approvers/1/message", "value": "AI: ok"},
            ])
        );
    }
}
