//! The manual-approval-gate's behaviour: its validating webhook and its status reconciler.
//!
//! Rules from openshift-pipelines manual-approval-gate (see `shared/docs/approvaltask.md`): only a
//! listed approver may update, only its own entry, only from `pending` to `approve`/`reject`,
//! only while the task is pending. After an accepted update the gate's controller recomputes
//! `status`; we do that synchronously.

use serde_json::{Value, json};

use super::status::ApiError;

/// The webhook's name, as it appears in denial messages.
const WEBHOOK: &str = "validation.webhook.manual-approval.openshift-pipelines.org";

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub groups: Vec<String>,
}

fn deny(message: impl std::fmt::Display) -> ApiError {
    ApiError::forbidden(format!(
        "admission webhook \"{WEBHOOK}\" denied the request: {message}"
    ))
}

/// Validates an UPDATE of an ApprovalTask's main resource by `user`.
pub fn admit_update(old: &Value, new: &Value, user: &Identity) -> Result<(), ApiError> {
    if old["status"]["state"].as_str().unwrap_or("pending") != "pending" {
        return Err(deny("ApprovalTask has already reached a final state"));
    }
    let old_approvers = old["spec"]["approvers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let new_approvers = new["spec"]["approvers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut old_spec = old["spec"].clone();
    let mut new_spec = new["spec"].clone();
    old_spec["approvers"] = Value::Null;
    new_spec["approvers"] = Value::Null;
    if old_spec != new_spec || old_approvers.len() != new_approvers.len() {
        return Err(deny("only the approver's own input and message may change"));
    }
    let mut changed_own = false;
    let mut listed = false;
    for (o, n) in old_approvers.iter().zip(&new_approvers) {
        let is_user = o["type"].as_str().unwrap_or("User") == "User";
        let name = o["name"].as_str().unwrap_or_default();
        if o["name"] != n["name"] || o["type"] != n["type"] {
            return Err(deny("the approvers list may not be reordered or renamed"));
        }
        let mine = if is_user {
            name == user.username
        } else {
            user.groups.iter().any(|g| g == name)
        };
        listed |= mine;
        if !mine {
            if o != n {
                return Err(deny(format!(
                    "user {} may not change the entry of {name}",
                    user.username
                )));
            }
            continue;
        }
        let (old_input, new_input) = if is_user {
            (o["input"].clone(), n["input"].clone())
        } else {
            (
                member_input(o, &user.username),
                member_input(n, &user.username),
            )
        };
        if old_input == new_input {
            if strip_own(o, user, is_user) != strip_own(n, user, is_user) {
                return Err(deny("only the approver's own input and message may change"));
            }
            continue;
        }
        if old_input.as_str().unwrap_or("pending") != "pending" {
            return Err(deny(format!("{} has already responded", user.username)));
        }
        if !matches!(new_input.as_str(), Some("approve" | "reject")) {
            return Err(deny("input must be approve or reject"));
        }
        if strip_own(o, user, is_user) != strip_own(n, user, is_user) {
            return Err(deny("only the approver's own input and message may change"));
        }
        changed_own = true;
    }
    if !listed {
        return Err(deny(format!(
            "user {} is not an approver of this ApprovalTask",
            user.username
        )));
    }
    if !changed_own {
        return Err(deny("an update must change the approver's own input"));
    }
    Ok(())
}

fn member_input(group: &Value, user: &str) -> Value {
    group["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["name"] == user))
        .map(|u| u["input"].clone())
        .unwrap_or(Value::String("pending".into()))
}

/// The entry with the caller's own fields removed, to compare everything else.
fn strip_own(entry: &Value, user: &Identity, is_user: bool) -> Value {
    let mut e = entry.clone();
    if is_user {
        if let Some(m) = e.as_object_mut() {
            m.remove("input");
            m.remove("message");
        }
    } else if let Some(users) = e["users"].as_array_mut() {
        users.retain(|u| u["name"] != user.username.as_str());
    }
    e
}

/// Recomputes `status` from `spec` as the gate's controller does.
pub fn reconcile(obj: &mut Value, now: &str) {
    let required = obj["spec"]["numberOfApprovalsRequired"]
        .as_u64()
        .unwrap_or(1);
    let approvers = obj["spec"]["approvers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut responses = Vec::new();
    let mut approved = std::collections::BTreeSet::new();
    let mut rejected = false;
    for a in &approvers {
        let name = a["name"].as_str().unwrap_or_default().to_string();
        if a["type"].as_str().unwrap_or("User") == "User" {
            if let Some(resp) = response_of(&a["input"]) {
                rejected |= resp == "rejected";
                if resp == "approved" {
                    approved.insert(name.clone());
                }
                responses.push(json!({"name": name, "type": "User", "response": resp,
                    "message": a["message"].as_str().unwrap_or_default()}));
            }
        } else {
            for u in a["users"].as_array().into_iter().flatten() {
                let Some(resp) = response_of(&u["input"]) else {
                    continue;
                };
                let member = u["name"].as_str().unwrap_or_default().to_string();
                rejected |= resp == "rejected";
                if resp == "approved" {
                    approved.insert(member.clone());
                }
                let message = u["message"].as_str().unwrap_or_default();
                responses.push(
                    json!({"name": member, "type": "Group", "response": resp, "message": message,
                    "groupMembers": [{"name": member, "response": resp, "message": message}]}),
                );
            }
        }
    }
    let state = if rejected {
        "rejected"
    } else if approved.len() as u64 >= required {
        "approved"
    } else {
        "pending"
    };
    let start = obj["status"]["startTime"]
        .as_str()
        .unwrap_or(now)
        .to_string();
    obj["status"] = json!({
        "state": state,
        "startTime": start,
        "approvers": approvers.iter().map(|a| a["name"].clone()).collect::<Vec<_>>(),
        "approvalsRequired": required,
        "approvalsReceived": approved.len(),
        "approversResponse": responses,
    });
}

fn response_of(input: &Value) -> Option<&'static str> {
    match input.as_str() {
        Some("approve") => Some("approved"),
        Some("reject") => Some("rejected"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Value {
        let mut t = json!({"spec": {"numberOfApprovalsRequired": 2, "description": "d", "approvers": [
            {"name": "alice", "type": "User", "input": "pending"},
            {"name": "system:serviceaccount:ai:ai-approver", "type": "User", "input": "pending"},
            {"name": "release", "type": "Group", "input": "pending", "users": []}]}});
        reconcile(&mut t, "2026-01-01T00:00:00Z");
        t
    }

    fn who(name: &str, groups: &[&str]) -> Identity {
        Identity {
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn own_entry_approve_is_admitted_and_counted() {
        let old = task();
        let mut new = old.clone();
        new["spec"]["approvers"][0]["input"] = json!("approve");
        new["spec"]["approvers"][0]["message"] = json!("ok");
        assert_eq!(admit_update(&old, &new, &who("alice", &[])), Ok(()));
        reconcile(&mut new, "x");
        assert_eq!(new["status"]["approvalsReceived"], 1);
        assert_eq!(new["status"]["state"], "pending");
    }

    #[test]
    fn other_entries_metadata_only_and_final_tasks_are_denied() {
        let old = task();
        let mut other = old.clone();
        other["spec"]["approvers"][0]["input"] = json!("approve");
        assert!(admit_update(&old, &other, &who("bob", &[])).is_err());
        let mut meta_only = old.clone();
        meta_only["metadata"] = json!({"annotations": {"x": "y"}});
        assert!(admit_update(&old, &meta_only, &who("alice", &[])).is_err());
        let mut count = old.clone();
        count["spec"]["numberOfApprovalsRequired"] = json!(1);
        count["spec"]["approvers"][0]["input"] = json!("approve");
        assert!(admit_update(&old, &count, &who("alice", &[])).is_err());
        let mut done = old.clone();
        done["status"]["state"] = json!("rejected");
        let mut new = done.clone();
        new["spec"]["approvers"][0]["input"] = json!("approve");
        assert!(admit_update(&done, &new, &who("alice", &[])).is_err());
    }

    #[test]
    fn group_members_vote_once_and_reject_wins() {
        let old = task();
        let mut new = old.clone();
        new["spec"]["approvers"][2]["users"] = json!([{"name": "bob", "input": "reject"}]);
        assert_eq!(admit_update(&old, &new, &who("bob", &["release"])), Ok(()));
        reconcile(&mut new, "x");
        assert_eq!(new["status"]["state"], "rejected");
        let mut again = new.clone();
        again["spec"]["approvers"][2]["users"][0]["input"] = json!("approve");
        assert!(admit_update(&new, &again, &who("bob", &["release"])).is_err());
    }
}
