//! The one write of the approval flow: a JSON Patch of our own approver entry, guarded by `test`
//! operations so it can never touch anything else and fails cleanly if the list moved or a
//! vote landed first (see `shared/docs/approvaltask.md`, "How to approve safely"). Pure.

use serde_json::{Value, json};

/// Our entry in `spec.approvers`: a `User` entry named like our identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnEntry {
    pub index: usize,
    /// `pending`, `approve` or `reject`.
    pub input: String,
}

/// Whether an approver entry is a `User`: the gate reads a missing or empty `type` as `User`
/// (`DefaultedApproverType` in manual-approval-gate's `pkg/apis/.../approvaltask_types.go`,
/// kept for v0.6.0 entries; its CLI writes `"type": ""` because the field has no omitempty).
pub fn is_user(approver: &Value) -> bool {
    matches!(approver["type"].as_str(), None | Some("" | "User"))
}

/// Finds our entry. Group membership does not count: the AI votes only as itself.
pub fn own_entry(task: &Value, identity: &str) -> Option<OwnEntry> {
    task["spec"]["approvers"]
        .as_array()?
        .iter()
        .enumerate()
        .find(|(_, a)| a["name"] == identity && is_user(a))
        .map(|(index, a)| OwnEntry {
            index,
            input: a["input"].as_str().unwrap_or("pending").to_string(),
        })
}

/// The approvals the gate counts, as its controller counts them (manual-approval-gate
/// `pkg/reconciler/approvaltask/utils.go`, `countApprovalsReceived`): the distinct names of
/// `User` entries whose `input` is `approve`, and of the members (`users_key`: `users` in the
/// resource, `members` in mcp-kubernetes' approval context) whose `input` is `approve` in a
/// `Group` entry whose own `input` is `approve`. `with` adds a name that has approved (ours,
/// to ask whether our vote would complete the task).
pub fn approvals_counted(approvers: &[Value], users_key: &str, with: Option<&str>) -> usize {
    let mut names = std::collections::BTreeSet::new();
    for a in approvers {
        if a["input"] != "approve" {
            continue;
        }
        if is_user(a) {
            if let Some(n) = a["name"].as_str() {
                names.insert(n);
            }
        } else if a["type"] == "Group" {
            for u in a[users_key].as_array().into_iter().flatten() {
                if u["input"] == "approve"
                    && let Some(n) = u["name"].as_str()
                {
                    names.insert(n);
                }
            }
        }
    }
    names.extend(with);
    names.len()
}

/// `spec.numberOfApprovalsRequired`, 1 when absent (the gate's default).
pub fn approvals_required(task: &Value) -> u64 {
    task["spec"]["numberOfApprovalsRequired"]
        .as_u64()
        .unwrap_or(1)
}

/// `status.state`, `pending` when the gate has not written it yet.
pub fn state(task: &Value) -> &str {
    task["status"]["state"].as_str().unwrap_or("pending")
}

/// The vote message: a one-line reason (defused: the model wrote part of it) and the audit id
/// that holds the evidence.
pub fn message(reason: &str, audit_id: &str) -> String {
    format!(
        "AI: {} [audit {audit_id}]",
        crate::outbound::quote(reason, 180)
    )
}

/// The guarded patch that sets entry `index` (named `identity`) from pending to `input`, on
/// the task with `uid` (a task deleted and re-created under the same name is another run, and
/// the vote decided on this one's evidence must not land there).
pub fn guarded(uid: &str, index: usize, identity: &str, input: &str, message: &str) -> Value {
    let base = format!("/spec/approvers/{index}");
    json!([
        {"op": "test", "path": "/metadata/uid", "value": uid},
        {"op": "test", "path": format!("{base}/name"), "value": identity},
        {"op": "test", "path": format!("{base}/input"), "value": "pending"},
        {"op": "replace", "path": format!("{base}/input"), "value": input},
        {"op": "add", "path": format!("{base}/message"), "value": message},
    ])
}

/// The guarded patch of a vote that must not complete the task: `guarded`, plus a `test` of
/// the whole approver list and of the required count exactly as `task` has them, so any vote,
/// member added to a group or count change that lands between our read and our write makes
/// the API refuse ours instead of letting it be the one that completes the approval. (Testing
/// an absent `numberOfApprovalsRequired` is left out: RFC 6902 and the API server's json-patch
/// disagree on a `test` of a missing path; absent means 1, where we never vote anyway.)
pub fn guarded_not_last(
    task: &Value,
    index: usize,
    identity: &str,
    input: &str,
    message: &str,
) -> Value {
    let mut ops =
        vec![json!({"op": "test", "path": "/spec/approvers", "value": task["spec"]["approvers"]})];
    let required = &task["spec"]["numberOfApprovalsRequired"];
    if !required.is_null() {
        ops.push(
            json!({"op": "test", "path": "/spec/numberOfApprovalsRequired", "value": required}),
        );
    }
    let uid = task["metadata"]["uid"].as_str().unwrap_or_default();
    if let Value::Array(own) = guarded(uid, index, identity, input, message) {
        ops.extend(own);
    }
    Value::Array(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_are_counted_as_the_gate_counts_them() {
        let approvers = json!([
            {"name": "alice", "type": "User", "input": "approve"},
            {"name": "ai", "type": "User", "input": "pending"},
            // A group counts its approving members only once its own input is approve.
            {"name": "release", "type": "Group", "input": "approve", "users": [
                {"name": "bob", "input": "approve"}, {"name": "alice", "input": "approve"}]},
            {"name": "ops", "type": "Group", "input": "pending", "users": [
                {"name": "carol", "input": "approve"}]},
        ]);
        let list = approvers.as_array().cloned().unwrap_or_default();
        assert_eq!(
            approvals_counted(&list, "users", None),
            2,
            "alice once, bob"
        );
        assert_eq!(approvals_counted(&list, "users", Some("ai")), 3);
        assert_eq!(approvals_counted(&list, "users", Some("alice")), 2);
        assert_eq!(approvals_counted(&list, "members", None), 1, "other key");
    }

    fn applies(patch: &Value, doc: &Value) -> bool {
        let p: json_patch::Patch = serde_json::from_value(patch.clone()).unwrap();
        let mut d = doc.clone();
        json_patch::patch(&mut d, &p).is_ok()
    }

    #[test]
    fn a_vote_that_must_not_complete_fails_if_anything_moved_since_the_read() {
        let task = json!({"metadata": {"uid": "u-1"}, "spec": {"numberOfApprovalsRequired": 3, "approvers": [
            {"name": "alice", "type": "User", "input": "approve"},
            {"name": "ai", "type": "User", "input": "pending"},
            // The CLI's "approved as an individual" branch: a group with no member list yet.
            {"name": "release", "type": "Group", "input": "approve"}]}});
        let p = guarded_not_last(&task, 1, "ai", "approve", "AI: ok");
        assert!(applies(&p, &task), "nothing moved: the vote lands");
        let mut member_joined = task.clone();
        member_joined["spec"]["approvers"][2]["users"] =
            json!([{"name": "bob", "input": "approve"}]);
        assert!(
            !applies(&p, &member_joined),
            "a member added himself to the group"
        );
        let mut fewer = task.clone();
        fewer["spec"]["numberOfApprovalsRequired"] = json!(2);
        assert!(!applies(&p, &fewer), "the required count changed");
        let mut other_run = task.clone();
        other_run["metadata"]["uid"] = json!("u-2");
        assert!(!applies(&p, &other_run), "the task was re-created");
        let mut voted = task.clone();
        voted["spec"]["approvers"][0]["message"] = json!("lgtm");
        assert!(!applies(&p, &voted), "any change to another entry");
    }

    #[test]
    fn an_empty_type_is_a_user_as_the_gate_reads_it() {
        // What `tkn-approvaltask approve` writes for an entry that had no type.
        let list = [
            json!({"name": "alice", "type": "", "input": "approve"}),
            json!({"name": "ai", "input": "pending"}),
            json!({"name": "ops", "type": "Team", "input": "approve", "users": [{"name": "x", "input": "approve"}]}),
        ];
        assert_eq!(
            approvals_counted(&list, "users", None),
            1,
            "alice counts; an unknown type does not"
        );
        assert_eq!(approvals_counted(&list, "users", Some("ai")), 2);
        let task = json!({"spec": {"approvers": list}});
        assert_eq!(own_entry(&task, "ai").map(|e| e.index), Some(1));
    }

    #[test]
    fn finds_only_our_user_entry() {
        let task = json!({"spec": {"approvers": [
            {"name": "ai", "type": "Group", "input": "pending"},
            {"name": "alice", "type": "User", "input": "approve"},
            {"name": "ai", "type": "User", "input": "pending"}]}});
        assert_eq!(
            own_entry(&task, "ai"),
            Some(OwnEntry {
                index: 2,
                input: "pending".into()
            })
        );
        assert_eq!(own_entry(&task, "bob"), None);
        assert_eq!(state(&task), "pending");
    }

    #[test]
    fn the_patch_tests_before_it_writes_and_the_message_is_one_short_line() {
        let p = guarded("u-1", 1, "sa", "reject", "AI: no");
        assert_eq!(
            p[0],
            json!({"op": "test", "path": "/metadata/uid", "value": "u-1"})
        );
        assert_eq!(p[2]["value"], "pending");
        assert_eq!(p[3]["path"], "/spec/approvers/1/input");
        assert_eq!(p.as_array().map(Vec::len), Some(5));
        let m = message(&format!("line one\nline two {}", "x".repeat(400)), "a-1");
        assert!(!m.contains('\n') && m.ends_with("[audit a-1]") && m.chars().count() < 220);
    }
}
