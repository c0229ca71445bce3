//! From evidence to facts: the approval context (mcp-kubernetes `approval_context`) and the
//! structured data of mcp-github (`commit_get`, `pull_get`, `security_alerts`) turned into the
//! [`TaskView`] the decision needs and the [`Facts`] the policy checks. Pure; anything missing
//! stays unknown (`None`), which the policy treats as a failed check.

use serde_json::Value;

use super::decide::TaskView;
use super::patch;
use super::policy::{Facts, FiringAlert, Image};

fn num(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The task as the decision sees it, for the approver named `identity`. Approvals are counted
/// from the approvers list as the gate counts them ([`patch::approvals_counted`]); the
/// gate's `status.approvalsReceived` is written asynchronously and may lag behind, so the
/// larger of the two counts (the one that makes our vote the last sooner).
pub fn task_view(ctx: &Value, identity: &str) -> TaskView {
    let t = &ctx["task"];
    let approvers = ctx["approvers"].as_array().cloned().unwrap_or_default();
    let own_input = approvers
        .iter()
        .find(|a| a["name"] == identity && patch::is_user(a))
        .map(|a| a["input"].as_str().unwrap_or("pending").to_string());
    let status_count = num(&t["approvalsReceived"]).unwrap_or(0) as usize;
    let counted = patch::approvals_counted(&approvers, "members", None);
    let with_ours = patch::approvals_counted(&approvers, "members", Some(identity));
    let lag = status_count.saturating_sub(counted);
    TaskView {
        state: t["state"].as_str().unwrap_or("pending").to_string(),
        own_input,
        required: num(&t["approvalsRequired"]).unwrap_or(1) as u32,
        received: u32::try_from(counted.max(status_count)).unwrap_or(u32::MAX),
        received_with_ours: u32::try_from(with_ours.saturating_add(lag)).unwrap_or(u32::MAX),
        // No known deadline: treat as expired rather than as unlimited time.
        seconds_left: t["secondsLeft"].as_i64().unwrap_or(0),
    }
}

/// The policy's facts. `pull` is `pull_get`'s data for the pull request that introduced the
/// commit, when there is one.
pub fn facts(
    ctx: &Value,
    commit: Option<&Value>,
    pull: Option<&Value>,
    alerts: Option<&Value>,
    firing: Option<&Value>,
    now: i64,
) -> Facts {
    let pr = &ctx["pipelineRun"];
    let images = pr["images"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|i| Image {
                    reference: i["ref"].as_str().unwrap_or_default().to_string(),
                    tag: i["tag"].as_str().map(str::to_string),
                    digest: i["digest"].as_str().map(str::to_string),
                })
                .collect()
        })
        .unwrap_or_default();
    let source = pull.or(commit);
    let changed_paths = source.and_then(|d| d["files"].as_array()).map(|files| {
        files
            .iter()
            .flat_map(|f| [f["path"].as_str(), f["previous_path"].as_str()])
            .flatten()
            .map(str::to_string)
            .collect()
    });
    let lines_changed = source.and_then(|d| Some(num(&d["additions"])? + num(&d["deletions"])?));
    let checks = pull.and_then(|p| p["checks"].as_array()).map(|list| {
        list.iter()
            .map(|c| {
                let conclusion = if c["completed"] == true {
                    c["conclusion"].as_str().unwrap_or("none")
                } else {
                    "in_progress"
                };
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    conclusion.to_string(),
                )
            })
            .collect()
    });
    let open_alerts = alerts.and_then(|a| a.as_object()).and_then(|kinds| {
        let available: Vec<&Value> = kinds.values().filter(|k| k["available"] == true).collect();
        (!available.is_empty()).then(|| {
            available
                .iter()
                .flat_map(|k| k["severities"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    });
    // Every kind mcp-github reports; one missing from the data is as unread as one marked so.
    let alerts_unavailable = match alerts.and_then(Value::as_object) {
        Some(kinds) => ["dependabot", "code-scanning", "secret-scanning"]
            .iter()
            .filter(|k| kinds.get(**k).is_none_or(|v| v["available"] != true))
            .map(|k| k.to_string())
            .collect(),
        None => Vec::new(),
    };
    let authors = match (pull, commit) {
        (Some(p), _) => p["commit_authors"].as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        }),
        (None, Some(c)) => c["author"].as_str().map(|a| vec![a.to_string()]),
        _ => None,
    };
    Facts {
        namespace: ctx["task"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        pipeline: pr["pipeline"].as_str().unwrap_or_default().to_string(),
        images,
        // An older server that does not say what it could not resolve: nothing known missing.
        images_unresolved: pr["imagesUnresolved"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        changed_paths,
        lines_changed,
        checks,
        open_alerts,
        alerts_unavailable,
        authors,
        // Alertmanager configured but unreadable: silences unknown, so the list is not the
        // whole truth (it may also hold alerts this Prometheus lacks): unknown.
        firing: firing
            .filter(|d| d["alertmanager"] != "unreadable")
            .map(firing_alerts),
        now,
    }
}

/// mcp-prometheus' `alerts` data as the policy's [`FiringAlert`]s.
fn firing_alerts(data: &Value) -> Vec<FiringAlert> {
    data["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "firing")
        .map(|a| FiringAlert {
            name: a["name"].as_str().unwrap_or("unnamed").to_string(),
            severity: a["severity"].as_str().map(str::to_string),
            labels: a["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect(),
            // Silenced by a person; an inhibition (another alert suppressing it) does not count.
            suppressed: a["alertmanager"]["silenced_by"]
                .as_array()
                .is_some_and(|s| !s.is_empty()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "task": {"namespace": "ci", "name": "t", "state": "pending", "approvalsRequired": "2",
                     "approvalsReceived": 1, "secondsLeft": 5400},
            "ownApproverIndex": 1,
            "approvers": [{"index": 0, "name": "alice", "input": "approve"}, {"index": 1, "name": "ai", "input": "pending"}],
            "pipelineRun": {"pipeline": "build-and-deploy", "images": [
                {"ref": "registry.example.com/shop/api:1.4.0@sha256:ab", "tag": "1.4.0", "digest": "sha256:ab"}]},
        })
    }

    #[test]
    fn the_task_view_reads_our_entry_and_the_counts() {
        let v = task_view(&ctx(), "ai");
        assert_eq!(
            (
                v.own_input.as_deref(),
                v.required,
                v.received,
                v.seconds_left
            ),
            (Some("pending"), 2, 1, 5400)
        );
        assert_eq!(v.received_with_ours, 2);
        let mut unknown = ctx();
        unknown["task"]["secondsLeft"] = Value::Null;
        assert_eq!(
            task_view(&unknown, "ai").seconds_left,
            0,
            "an unknown deadline is not unlimited time"
        );
    }

    #[test]
    fn approvals_count_groups_as_the_gate_does_and_never_less_than_its_status() {
        let mut c = ctx();
        c["approvers"] = json!([
            {"name": "ai", "type": "User", "input": "pending"},
            {"name": "release", "type": "Group", "input": "approve", "members": [
                {"name": "bob", "input": "approve"}]},
        ]);
        c["task"]["approvalsReceived"] = json!(0);
        let v = task_view(&c, "ai");
        assert_eq!(
            (v.received, v.received_with_ours),
            (1, 2),
            "status lags the spec"
        );
        c["task"]["approvalsReceived"] = json!(2);
        let v = task_view(&c, "ai");
        assert_eq!(
            (v.received, v.received_with_ours),
            (2, 3),
            "the larger count wins"
        );
    }

    #[test]
    fn facts_come_from_the_pull_request_first_and_stay_unknown_when_missing() {
        let commit = json!({"author": "dependabot[bot]", "additions": 1, "deletions": 1, "files": [{"path": "Cargo.toml"}]});
        let pull = json!({"additions": 3, "deletions": 1, "files": [{"path": "Cargo.toml"}, {"path": "Cargo.lock", "previous_path": null}],
            "commit_authors": ["dependabot[bot]"],
            "checks": [{"name": "cargo test", "completed": true, "conclusion": "success"}, {"name": "lint", "completed": false, "conclusion": null}]});
        let alerts = json!({"dependabot": {"available": true, "severities": ["high"]}, "code-scanning": {"available": false}});
        let f = facts(&ctx(), Some(&commit), Some(&pull), Some(&alerts), None, 0);
        assert_eq!(
            f.changed_paths,
            Some(vec!["Cargo.toml".to_string(), "Cargo.lock".to_string()])
        );
        assert_eq!(f.lines_changed, Some(4));
        assert_eq!(
            f.checks,
            Some(vec![
                ("cargo test".into(), "success".into()),
                ("lint".into(), "in_progress".into())
            ])
        );
        assert_eq!(f.open_alerts, Some(vec!["high".to_string()]));
        assert_eq!(f.alerts_unavailable, ["code-scanning", "secret-scanning"]);
        assert_eq!(f.images[0].digest.as_deref(), Some("sha256:ab"));
        let bare = facts(&ctx(), Some(&commit), None, None, None, 0);
        assert_eq!((bare.checks, bare.open_alerts), (None, None));
        assert_eq!(bare.authors, Some(vec!["dependabot[bot]".to_string()]));
    }

    #[test]
    fn firing_alerts_are_unknown_without_alertmanager_and_inhibitions_still_count() {
        let data = |am: &str| {
            serde_json::json!({"alertmanager": am, "alerts": [
                {"name": "A", "state": "firing", "severity": "critical", "labels": {"namespace": "ci"},
                 "alertmanager": {"state": "suppressed", "silenced_by": [], "inhibited_by": ["x"]}}]})
        };
        let unread = data("unreadable");
        let f = facts(&ctx(), None, None, None, Some(&unread), 0);
        assert_eq!(f.firing, None, "silences unknown: inconclusive");
        let read = data("read");
        let f = facts(&ctx(), None, None, None, Some(&read), 0);
        let alerts = f.firing.unwrap();
        assert_eq!(alerts.len(), 1);
        assert!(
            !alerts[0].suppressed,
            "an inhibition is not a person's silence"
        );
    }
}
