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

#[cfg(test)]
mod tests {
    use super::*;

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
