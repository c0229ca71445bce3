//! What the local demo needs from the sandbox beyond the emulators: the scripted model's answers
//! for both stories (the rollback answer names the culprit commit, known once the GitHub seeds
//! are loaded), and pending ApprovalTasks that start now (the shipped seeds carry fixed times).

use serde_json::json;

use crate::github::GitHubServer;
use crate::kube::Cluster;
use crate::kube::approval::Identity;
use crate::model::Script;

/// The acme/kong-config commit that moved the orders upstream (the seeded incident's cause).
pub fn kong_culprit(gh: &GitHubServer) -> Option<String> {
    gh.state
        .with_repo("acme/kong-config", |r| {
            let mut at = r.resolve("main")?;
            loop {
                let c = r.odb.commit(&at)?.clone();
                if c.message.starts_with("orders:") {
                    return Some(at);
                }
                at = c.parents.first()?.clone();
            }
        })
        .flatten()
}

/// The demo's model: approves the routine dependency bump, confirms the rollback culprit.
pub fn model_script(culprit: &str) -> Script {
    let parsed = serde_json::from_value(json!({"rules": [
        {"when": {"contains": "You review a Tekton ApprovalTask"}, "reply": {"tool_calls": [{"name": "submit_answer", "arguments": {
            "decision": "approve", "confidence": 0.9,
            "reasons": ["tokio patch bump from dependabot (PR #42), reviewed by alice", "cargo test and cargo clippy passed", "the image is pinned by digest"],
            "evidence": ["github.pull_get", "github.commit_get", "kubernetes.approval_context"]}}]}},
        {"when": {"contains": "automated rollback"}, "reply": {"tool_calls": [{"name": "submit_answer", "arguments": {
            "culprit": culprit, "confirm": true, "confidence": 0.9,
            "explanation": "The commit moved the orders service to orders-v2.shop.svc.cluster.local:8081. Every request to orders-route has answered 503 since its deploy finished, and no other route changed. Reverting it restores the previous upstream."}}]}},
        {"reply": {"content": "I can only help with the demo's two stories."}},
    ]}));
    parsed.unwrap_or(Script { rules: Vec::new() })
}

/// Moves the start of every pending ApprovalTask to two minutes ago.
pub fn refresh_pending_tasks(cluster: &Cluster) -> usize {
    let Some(rt) = cluster.resolve("openshift-pipelines.org", "v1alpha1", "approvaltasks") else {
        return 0;
    };
    let Ok((tasks, _, _)) = cluster.list(&rt, &Default::default()) else {
        return 0;
    };
    let admin = Identity {
        username: "kubernetes-admin".into(),
        groups: vec!["system:masters".into()],
    };
    let start = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_mins(2))
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string();
    let mut n = 0;
    for t in tasks
        .iter()
        .filter(|t| t["status"]["state"].as_str().unwrap_or("pending") == "pending")
    {
        let (Some(ns), Some(name)) = (
            t["metadata"]["namespace"].as_str(),
            t["metadata"]["name"].as_str(),
        ) else {
            continue;
        };
        let updated = cluster.update_with(&rt, ns, name, true, &admin, |old| {
            let mut o = old.clone();
            o["status"]["startTime"] = json!(start);
            Ok(o)
        });
        if updated.is_ok() {
            n += 1;
        }
    }
    n
}
