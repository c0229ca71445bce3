//! Co-approver mode end to end: the AI never casts the vote that completes an approval. It
//! approves only while at least one more approval is still needed after its own (counted as the
//! real gate counts, groups included), and otherwise records a recommendation; a human signs
//! last, and the recommendation is labelled by the humans' final decision like a vote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::approval::review::{ModeSetting, Review};
use agent_host::approval::store::{Record, Store};
use e2e::approval::{AI, DIGEST, World, client_for, committed_approve};
use sandbox::model::Script;
use serde_json::{Value, json};

/// Rules a routine change passes.
const POLICY: &str = r#"
rules:
  - {id: no-latest, description: "No latest images", action: reject, check: image-tag, deny: [latest]}
  - {id: checks-green, description: "Checks green", action: reject, check: checks-green}
"#;

fn world_script() -> Script {
    e2e::approval::approving_model()
}

fn user(name: &str) -> Value {
    json!({"name": name, "type": "User", "input": "pending"})
}

fn decision(r: Review) -> Record {
    match r {
        Review::Decided { record, .. } | Review::Resumed(record) => record,
        other => panic!("expected a decision, got {other:?}"),
    }
}

fn event_reasons(w: &World, task: &str) -> Vec<String> {
    w.core_list("events", "ci")
        .unwrap()
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == task)
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ai_signs_only_while_a_human_is_still_needed_after_it() {
    let w = World::start(world_script(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let mut approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    approver.settings.notify_channel = Some("#releases".into());

    // AI first of two: its approve leaves one more needed, so it is cast.
    let t = w
        .create_task_with("first", &head, DIGEST, vec![user("alice"), user(AI)], 2)
        .unwrap();
    assert_eq!(
        decision(approver.review(&t).await.unwrap()).action,
        "approve"
    );
    let after = w.task("first").unwrap();
    assert_eq!(
        (
            after["status"]["approvalsReceived"].as_u64(),
            after["status"]["state"].as_str()
        ),
        (Some(1), Some("pending"))
    );

    // AI second of two: alice approved, ours would complete it, so it only recommends.
    let t = w
        .create_task_with(
            "second",
            &head,
            DIGEST,
            vec![user("alice"), user("bob"), user(AI)],
            2,
        )
        .unwrap();
    w.human_vote("alice", "second", "approve", "lgtm")
        .await
        .unwrap();
    let rec = decision(approver.review(&w.task("second").unwrap()).await.unwrap());
    assert_eq!(rec.action, "recommend-approve", "{rec:?}");
    assert_eq!(rec.applied.as_deref(), Some("noted; Slack told"));
    assert_eq!(w.ai_input("second").unwrap(), "pending");
    let after = w.task("second").unwrap();
    assert_eq!(
        (
            after["status"]["approvalsReceived"].as_u64(),
            after["status"]["state"].as_str()
        ),
        (Some(1), Some("pending"))
    );
    assert_eq!(event_reasons(&w, "second"), ["AIRecommendsApproval"]);
    assert!(
        w.slack
            .state
            .posted()
            .iter()
            .any(|p| p.text.contains("ci/second") && p.text.contains("recommend-approve"))
    );
    let _ = t;

    // The task stays 1/2 until a second human signs; then the recommendation is labelled.
    w.human_vote("bob", "second", "approve", "ship it")
        .await
        .unwrap();
    let done = w.task("second").unwrap();
    assert_eq!(done["status"]["state"], "approved");
    assert_eq!(
        w.ai_input("second").unwrap(),
        "pending",
        "the last signer is a human"
    );
    match approver.review(&done).await.unwrap() {
        Review::FollowedUp(r) => assert_eq!(
            (r.action.as_str(), r.reward),
            ("recommend-approve", Some(1))
        ),
        other => panic!("{other:?}"),
    }

    // AI alone (one required): a recommendation.
    let t = w
        .create_task_with("alone", &head, DIGEST, vec![user(AI), user("alice")], 1)
        .unwrap();
    assert_eq!(
        decision(approver.review(&t).await.unwrap()).action,
        "recommend-approve"
    );
    assert_eq!(w.ai_input("alone").unwrap(), "pending");

    // A human overrules a recommendation: labelled -1.
    w.human_vote("alice", "alone", "reject", "not during the sale")
        .await
        .unwrap();
    match approver.review(&w.task("alone").unwrap()).await.unwrap() {
        Review::FollowedUp(r) => assert_eq!(r.reward, Some(-1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.model_calls(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_approvals_count_as_the_real_gate_counts_them() {
    let w = World::start(world_script(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    let group = || json!({"name": "release-managers", "type": "Group", "input": "pending"});

    // bob approves through his group as tkn-approvaltask does: one approval in, ours would be
    // the second of two.
    let t = w
        .create_task_with("grouped", &head, DIGEST, vec![user(AI), group()], 2)
        .unwrap();
    w.group_vote("bob", "grouped", "release-managers", "approve")
        .await
        .unwrap();
    let voted = w.task("grouped").unwrap();
    assert_eq!(voted["status"]["approvalsReceived"], 1);
    let resp = &voted["status"]["approversResponse"][0];
    assert_eq!(
        (resp["name"].as_str(), resp["type"].as_str()),
        (Some("release-managers"), Some("Group"))
    );
    let _ = t;
    assert_eq!(
        decision(approver.review(&voted).await.unwrap()).action,
        "recommend-approve"
    );
    assert_eq!(w.ai_input("grouped").unwrap(), "pending");

    // Members listed as approving in a group whose own input is still pending do not count
    // (the gate counts a group's members only once the group's input is approve): ours would
    // be 1 of 2, so it is cast.
    let mut listed = group();
    listed["users"] = json!([{"name": "bob", "input": "approve"}]);
    let t = w
        .create_task_with("listed", &head, DIGEST, vec![user(AI), listed], 2)
        .unwrap();
    assert_eq!(t["status"]["approvalsReceived"], 0);
    assert_eq!(
        decision(approver.review(&t).await.unwrap()).action,
        "approve"
    );
    let after = w.task("listed").unwrap();
    assert_eq!(
        (
            after["status"]["approvalsReceived"].as_u64(),
            after["status"]["state"].as_str()
        ),
        (Some(1), Some("pending"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_landing_before_our_vote_turns_it_into_a_recommendation() {
    let w = World::start(world_script(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let t = w
        .create_task_with("late", &head, DIGEST, vec![user("alice"), user(AI)], 2)
        .unwrap();
    // Decided while no approval was in (approve, not the last one), committed, and then alice
    // approved before the vote was sent (a restart between commit and vote, or a slow write).
    let uid = t["metadata"]["uid"].as_str().unwrap().to_string();
    let client = client_for(&w.kube, "ai-approver").await.unwrap();
    Store::new(client, "ai")
        .create(&committed_approve("appr-late-1", "late", &uid))
        .await
        .unwrap();
    w.human_vote("alice", "late", "approve", "lgtm")
        .await
        .unwrap();
    let approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    let rec = decision(approver.review(&w.task("late").unwrap()).await.unwrap());
    assert_eq!(rec.action, "recommend-approve", "{rec:?}");
    let applied = rec.applied.unwrap();
    assert!(applied.starts_with("withheld"), "{applied}");
    assert!(rec.reason.contains("approval 2 of 2"), "{}", rec.reason);
    let after = w.task("late").unwrap();
    assert_eq!(after["status"]["state"], "pending");
    assert_eq!(w.ai_input("late").unwrap(), "pending");
    assert_eq!(event_reasons(&w, "late"), ["AIRecommendsApproval"]);
    assert_eq!(
        w.model_calls(),
        0,
        "a committed decision needs no model call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_human_vote_racing_ours_makes_ours_a_recommendation_not_the_last_signature() {
    let w = World::start(world_script(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let t = w
        .create_task_with(
            "race",
            &head,
            DIGEST,
            vec![user("alice"), user(AI), user("carol")],
            2,
        )
        .unwrap();
    // The model approves with no approval in (ours would be 1 of 2); between the host's read
    // and its guarded patch, alice approves. Unguarded, the AI's patch would be approval 2
    // of 2 and complete the task.
    let cluster = w.kube.cluster.clone();
    w.kube
        .cluster
        .before_next_patch("approvaltasks", "race", move |c| {
            let rt = c
                .resolve("openshift-pipelines.org", "v1alpha1", "approvaltasks")
                .unwrap();
            let alice = sandbox::kube::approval::Identity {
                username: "alice".into(),
                groups: vec![],
            };
            c.update_with(&rt, "ci", "race", false, &alice, |old| {
                let mut new = old.clone();
                new["spec"]["approvers"][0]["input"] = json!("approve");
                Ok(new)
            })
            .unwrap();
        });
    let approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    let rec = decision(approver.review(&t).await.unwrap());
    assert_eq!(rec.action, "recommend-approve", "{rec:?}");
    assert!(
        rec.applied.as_deref().unwrap().starts_with("withheld"),
        "{rec:?}"
    );
    assert!(rec.reason.contains("approval 2 of 2"), "{}", rec.reason);
    let after = w.task("race").unwrap();
    assert_eq!(after["status"]["state"], "pending", "a human signs last");
    assert_eq!(after["spec"]["approvers"][0]["input"], "approve");
    assert_eq!(w.ai_input("race").unwrap(), "pending");
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_outage_at_vote_time_is_retried_never_recorded_as_refused() {
    let w = World::start(world_script(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let t = w
        .create_task_with("flaky", &head, DIGEST, vec![user("alice"), user(AI)], 2)
        .unwrap();
    w.kube
        .cluster
        .fail_next_patch("approvaltasks", "flaky", 500);
    w.kube
        .cluster
        .fail_next_patch("approvaltasks", "flaky", 502);
    let approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    let first = approver.review(&t).await;
    assert!(
        matches!(&first, Err(agent_host::approval::review::ReviewError::Transient(m)) if m.contains("500")),
        "{first:?}"
    );
    let second = approver.review(&w.task("flaky").unwrap()).await;
    assert!(
        matches!(&second, Err(agent_host::approval::review::ReviewError::Transient(m)) if m.contains("502")),
        "{second:?}"
    );
    assert_eq!(w.ai_input("flaky").unwrap(), "pending");
    // A 503 more: the host's call client does not retry inside a call, the review does.
    w.kube
        .cluster
        .fail_next_patch("approvaltasks", "flaky", 503);
    let third = approver.review(&w.task("flaky").unwrap()).await;
    assert!(
        matches!(&third, Err(agent_host::approval::review::ReviewError::Transient(m)) if m.contains("503")),
        "{third:?}"
    );
    // The API is back: the committed decision is sent, without asking the model again.
    let calls = w.model_calls();
    let rec = decision(approver.review(&w.task("flaky").unwrap()).await.unwrap());
    assert_eq!(
        (rec.action.as_str(), rec.applied.as_deref()),
        ("approve", Some("patched"))
    );
    assert_eq!(w.ai_input("flaky").unwrap(), "approve");
    assert_eq!(w.model_calls(), calls);
}
