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

/// A webhook refusal as the API server returns it: manual-approval-gate's webhook answers
/// through knative's `MakeErrorStatus` (`apierrors.NewBadRequest`), and the API server keeps a
/// refusal's code when it is 400 or above (`webhookerrors.ToStatusErr`): 400, not 403.
fn deny(message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
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
        let is_user = user_entry(o);
        let name = o["name"].as_str().unwrap_or_default();
        if o["name"] != n["name"] || o["type"] != n["type"] {
            return Err(deny("the approvers list may not be reordered or renamed"));
        }
        let mine = if is_user {
            name == user.username
        } else {
            // A member through its groups, or listed in the entry's users (the webhook's
            // `ifUserExists`).
            user.groups.iter().any(|g| g == name)
                || o["users"]
                    .as_array()
                    .is_some_and(|us| us.iter().any(|u| u["name"] == user.username.as_str()))
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
        if !is_user {
            changed_own |= admit_group_vote(o, n, user)?;
            continue;
        }
        let (old_input, new_input) = (o["input"].clone(), n["input"].clone());
        if old_input == new_input {
            if strip_own(o) != strip_own(n) {
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
        if strip_own(o) != strip_own(n) {
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

/// A group member's vote as the real CLI casts it (`pkg/actions/actions.go`, `update`): the
/// group entry's `input` (and `message`) set to the vote, the member added to `users[]` with
/// the same input, or its existing input there changed. The webhook (`pkg/reconciler/webhook/
/// webhook.go`, `IsUserApprovalChanged`, `CheckOtherUsersForInvalidChanges`) admits a change
/// of the group's input to approve/reject and of the caller's own member entry, and denies a
/// change of another member's input or the addition of anyone else. Returns whether the
/// caller's vote changed.
fn admit_group_vote(o: &Value, n: &Value, user: &Identity) -> Result<bool, ApiError> {
    let valid = |v: &Value| matches!(v.as_str(), Some("approve" | "reject"));
    let members = |e: &Value| -> Vec<(String, Value)> {
        e["users"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                (
                    u["name"].as_str().unwrap_or_default().to_string(),
                    u["input"].clone(),
                )
            })
            .collect()
    };
    let (before, after) = (members(o), members(n));
    let me = user.username.as_str();
    for (name, input) in &before {
        if name != me && after.iter().any(|(m, i)| m == name && i != input) {
            return Err(deny(format!(
                "user {me} may not change the input of {name}"
            )));
        }
    }
    for (name, input) in &after {
        let existed = before.iter().any(|(m, _)| m == name);
        if !existed && name != me {
            return Err(deny(format!("user {me} may not add {name} to the group")));
        }
        if name == me && !valid(input) && before.iter().all(|(m, i)| m != me || i != input) {
            return Err(deny("input must be approve or reject"));
        }
    }
    let own = |list: &[(String, Value)]| list.iter().find(|(m, _)| m == me).map(|(_, i)| i.clone());
    let group_changed = o["input"] != n["input"];
    if group_changed && !valid(&n["input"]) {
        return Err(deny("input must be approve or reject"));
    }
    let mine_changed = own(&before) != own(&after);
    if let Some(Value::String(old)) = own(&before)
        && mine_changed
        && old != "pending"
    {
        return Err(deny(format!("{me} has already responded")));
    }
    Ok(group_changed || mine_changed)
}

/// The entry with the caller's own fields removed, to compare everything else.
fn strip_own(entry: &Value) -> Value {
    let mut e = entry.clone();
    if let Some(m) = e.as_object_mut() {
        m.remove("input");
        m.remove("message");
    }
    e
}

/// Recomputes `status` from `spec` as the gate's controller does
/// (`pkg/reconciler/approvaltask/utils.go`, `updateApprovalState`): one response per `User`
/// entry that voted and one per `Group` entry whose own input is set (named after the group,
/// its members' votes in `groupMembers`, users already counted as `User` entries left out);
/// approvals are the distinct approving users of approving entries; any entry whose input is
/// `reject` rejects the task. The controller writes this asynchronously; we do it in the
/// request.
pub fn reconcile(obj: &mut Value, now: &str) {
    let required = obj["spec"]["numberOfApprovalsRequired"]
        .as_u64()
        .unwrap_or(1);
    let approvers = obj["spec"]["approvers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let is_user = user_entry;
    let mut responses = Vec::new();
    let mut individuals = std::collections::BTreeSet::new();
    for a in approvers.iter().filter(|a| is_user(a)) {
        if let Some(resp) = response_of(&a["input"]) {
            let name = a["name"].as_str().unwrap_or_default().to_string();
            responses.push(json!({"name": name, "type": "User", "response": resp,
                "message": a["message"].as_str().unwrap_or_default()}));
            individuals.insert(name);
        }
    }
    for a in approvers.iter().filter(|a| !is_user(a)) {
        if response_of(&a["input"]).is_none() {
            continue;
        }
        let mut members = Vec::new();
        for u in a["users"].as_array().into_iter().flatten() {
            let member = u["name"].as_str().unwrap_or_default();
            if individuals.contains(member) {
                continue;
            }
            if let Some(resp) = response_of(&u["input"]) {
                members.push(json!({"name": member, "response": resp,
                    "message": u["message"].as_str().unwrap_or_default()}));
            }
        }
        let group_response = if members.iter().any(|m| m["response"] == "rejected") {
            "rejected"
        } else if members.iter().any(|m| m["response"] == "approved") {
            "approved"
        } else {
            continue;
        };
        responses.push(
            json!({"name": a["name"], "type": "Group", "response": group_response,
            "message": a["message"].as_str().unwrap_or_default(), "groupMembers": members}),
        );
    }
    let received = approvals_received(&approvers);
    let state = if approvers.iter().any(|a| a["input"] == "reject") {
        "rejected"
    } else if received as u64 >= required {
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
        "approvalsReceived": received,
        "approversResponse": responses,
    });
}

/// `countApprovalsReceived`: distinct approving users of `User` entries, and of `Group`
/// entries whose own input is `approve`.
fn approvals_received(approvers: &[Value]) -> usize {
    let mut names = std::collections::BTreeSet::new();
    for a in approvers.iter().filter(|a| a["input"] == "approve") {
        if user_entry(a) {
            names.extend(a["name"].as_str());
        } else {
            for u in a["users"].as_array().into_iter().flatten() {
                if u["input"] == "approve" {
                    names.extend(u["name"].as_str());
                }
            }
        }
    }
    names.len()
}

fn response_of(input: &Value) -> Option<&'static str> {
    match input.as_str() {
        Some("approve") => Some("approved"),
        Some("reject") => Some("rejected"),
        _ => None,
    }
}

/// A `User` entry as the gate reads it: a missing or empty `type` is `User`
/// (`DefaultedApproverType`; the real CLI writes `"type": ""`).
fn user_entry(a: &Value) -> bool {
    matches!(a["type"].as_str(), None | Some("" | "User"))
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

    /// The patch the real CLI's `update` makes for a group member.
    fn cli_group_vote(task: &Value, index: usize, user: &str, input: &str) -> Value {
        let mut new = task.clone();
        new["spec"]["approvers"][index]["input"] = json!(input);
        new["spec"]["approvers"][index]["message"] = json!("via group");
        let users = new["spec"]["approvers"][index]["users"]
            .as_array_mut()
            .unwrap();
        users.push(json!({"name": user, "input": input, "message": "via group"}));
        new
    }

    #[test]
    fn group_votes_are_cast_and_counted_as_the_real_gate_does() {
        let old = task();
        let new = cli_group_vote(&old, 2, "bob", "approve");
        assert_eq!(admit_update(&old, &new, &who("bob", &["release"])), Ok(()));
        let mut counted = new.clone();
        reconcile(&mut counted, "x");
        assert_eq!(counted["status"]["approvalsReceived"], 1);
        assert_eq!(counted["status"]["state"], "pending");
        let resp = &counted["status"]["approversResponse"][0];
        assert_eq!(
            (resp["name"].as_str(), resp["type"].as_str()),
            (Some("release"), Some("Group"))
        );
        assert_eq!(resp["groupMembers"][0]["name"], "bob");
        // Not a member: denied; a member may not change another member's input.
        assert!(admit_update(&old, &new, &who("bob", &[])).is_err());
        let mut other = counted.clone();
        other["spec"]["approvers"][2]["users"][0]["input"] = json!("reject");
        assert!(admit_update(&counted, &other, &who("carol", &["release"])).is_err());
        // Members listed with approve do not count while the group's own input is pending.
        let mut unset = old.clone();
        unset["spec"]["approvers"][2]["users"] = json!([{"name": "bob", "input": "approve"}]);
        reconcile(&mut unset, "x");
        assert_eq!(unset["status"]["approvalsReceived"], 0);
    }

    #[test]
    fn a_group_reject_rejects_and_a_member_votes_once() {
        let old = task();
        let mut new = cli_group_vote(&old, 2, "bob", "reject");
        assert_eq!(admit_update(&old, &new, &who("bob", &["release"])), Ok(()));
        reconcile(&mut new, "x");
        assert_eq!(new["status"]["state"], "rejected");
        let mut approved = cli_group_vote(&old, 2, "bob", "approve");
        reconcile(&mut approved, "x");
        let mut again = approved.clone();
        again["spec"]["approvers"][2]["users"][0]["input"] = json!("reject");
        assert!(admit_update(&approved, &again, &who("bob", &["release"])).is_err());
    }
}
