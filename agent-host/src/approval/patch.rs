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

/// Finds our entry. Group membership does not count: the AI votes only as itself.
pub fn own_entry(task: &Value, identity: &str) -> Option<OwnEntry> {
    task["spec"]["approvers"]
        .as_array()?
        .iter()
        .enumerate()
        .find(|(_, a)| a["name"] == identity && a["type"].as_str().unwrap_or("User") == "User")
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
        if a["type"].as_str().unwrap_or("User") == "User" {
            if let Some(n) = a["name"].as_str() {
                names.insert(n);
            }
        } else {
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

/// One line, at most `max` characters: a vote message is read in `kubectl` output.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The vote message: a one-line reason and the audit id that holds the evidence.
pub fn message(reason: &str, audit_id: &str) -> String {
    format!("AI: {} [audit {audit_id}]", one_line(reason, 180))
}

/// The guarded patch that sets entry `index` (named `identity`) from pending to `input`.
pub fn guarded(index: usize, identity: &str, input: &str, message: &str) -> Value {
    let base = format!("/spec/approvers/{index}");
    json!([
        {"op": "test", "path": format!("{base}/name"), "value": identity},
        {"op": "test", "path": format!("{base}/input"), "value": "pending"},
        {"op": "replace", "path": format!("{base}/input"), "value": input},
        {"op": "add", "path": format!("{base}/message"), "value": message},
    ])
}

/// The guarded patch of a vote that must not complete the task: `guarded`, plus a `test` of
/// every other entry's `input` (and a group's member list) as `task` has them, so a vote that
/// lands between our read and our write makes the API refuse ours instead of letting it be
/// the one that completes the approval.
pub fn guarded_not_last(
    task: &Value,
    index: usize,
    identity: &str,
    input: &str,
    message: &str,
) -> Value {
    let mut ops = Vec::new();
    for (i, a) in task["spec"]["approvers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if i == index {
            continue;
        }
        ops.push(json!({"op": "test", "path": format!("/spec/approvers/{i}/input"), "value": a["input"]}));
        if !a["users"].is_null() {
            ops.push(json!({"op": "test", "path": format!("/spec/approvers/{i}/users"), "value": a["users"]}));
        }
    }
    if let Value::Array(own) = guarded(index, identity, input, message) {
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

    #[test]
    fn a_vote_that_must_not_complete_tests_every_other_entry() {
        let task = json!({"spec": {"approvers": [
            {"name": "alice", "type": "User", "input": "pending"},
            {"name": "ai", "type": "User", "input": "pending"},
            {"name": "release", "type": "Group", "input": "pending", "users": []}]}});
        let p = guarded_not_last(&task, 1, "ai", "approve", "AI: ok");
        let ops = p.as_array().cloned().unwrap_or_default();
        assert_eq!(ops.len(), 3 + 4);
        assert_eq!(
            ops[0],
            json!({"op": "test", "path": "/spec/approvers/0/input", "value": "pending"})
        );
        assert_eq!(ops[2]["path"], "/spec/approvers/2/users");
        assert_eq!(ops[5]["op"], "replace");
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
        let p = guarded(1, "sa", "reject", "AI: no");
        assert_eq!(p[0]["op"], "test");
        assert_eq!(p[1]["value"], "pending");
        assert_eq!(p[2]["path"], "/spec/approvers/1/input");
        assert_eq!(p.as_array().map(Vec::len), Some(4));
        let m = message(&format!("line one\nline two {}", "x".repeat(400)), "a-1");
        assert!(!m.contains('\n') && m.ends_with("[audit a-1]") && m.chars().count() < 220);
    }
}
