//! Faults during a review are not evidence: GitHub's quota running out or a secondary rate
//! limit while the task has time makes the review wait and retry, with nothing decided,
//! recorded or voted; once the fault clears the task is decided on the full evidence, once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agent_host::approval::review::{ModeSetting, Review, ReviewError};
use e2e::approval::{AI, DIGEST, World, approving_model};

/// The example's kind of policy: reject rules over facts a fault can hide.
pub(crate) const POLICY: &str = r#"
rules:
  - {id: no-latest, description: "No latest images", action: reject, check: image-tag, deny: [latest]}
  - {id: checks-green, description: "Checks green", action: reject, check: checks-green}
  - {id: small-diff, description: "Small diffs", action: require-human, check: diff-size, max_lines: 400}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_review_waits_and_then_decides_once() {
    let w = World::start(approving_model(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    w.create_task("quota", &head, DIGEST, &["alice", AI], 2)
        .unwrap();

    // A secondary limit names its wait: the retry says when.
    w.github.state.secondary_limit(1, 42);
    match approver.review(&w.task("quota").unwrap()).await {
        Err(ReviewError::Retry { why, after }) => {
            assert!(why.contains("rate limit"), "{why}");
            assert_eq!(after, Some(Duration::from_secs(42)));
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(
        w.ai_input("quota").unwrap(),
        "pending",
        "no vote from a fault"
    );
    assert_eq!(w.model_calls(), 0, "no model call on partial evidence");
    assert!(
        w.core_list("configmaps", "ai").unwrap().is_empty(),
        "no decision recorded"
    );

    // The primary quota is gone until it resets (in 2 s here, an hour at most on GitHub).
    w.github.state.exhaust_quota(2);
    match approver.review(&w.task("quota").unwrap()).await {
        Err(ReviewError::Retry { after, .. }) => {
            assert!(
                after.is_some_and(|a| a <= Duration::from_secs(3)),
                "{after:?}"
            )
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(w.ai_input("quota").unwrap(), "pending");
    assert_eq!(w.model_calls(), 0);
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The fault cleared: decided on the full evidence, and only once.
    match approver.review(&w.task("quota").unwrap()).await.unwrap() {
        Review::Decided { record, .. } => assert_eq!(record.action, "approve", "{record:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.ai_input("quota").unwrap(), "approve");
    assert!(!matches!(
        approver.review(&w.task("quota").unwrap()).await.unwrap(),
        Review::Decided { .. }
    ));
    assert_eq!(w.model_calls(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_outage_is_retried_never_an_abstention() {
    let w = World::start(approving_model(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    w.create_task("model-down", &head, DIGEST, &["alice", AI], 2)
        .unwrap();
    // The provider answers 503, then 429 (its quota), then comes back.
    let mut script = approving_model();
    for status in [503, 429] {
        script.rules.insert(
            0,
            serde_json::from_value(serde_json::json!({"reply": {"status": status}, "times": 1}))
                .unwrap(),
        );
    }
    w.model.state.set_script(script);
    for _ in 0..2 {
        match approver.review(&w.task("model-down").unwrap()).await {
            Err(ReviewError::Retry { why, .. }) => assert!(why.contains("model"), "{why}"),
            other => panic!("expected a retry, got {other:?}"),
        }
        assert_eq!(w.ai_input("model-down").unwrap(), "pending", "no vote");
        assert!(
            w.core_list("configmaps", "ai").unwrap().is_empty(),
            "no decision recorded from an outage"
        );
    }
    match approver
        .review(&w.task("model-down").unwrap())
        .await
        .unwrap()
    {
        Review::Decided { record, .. } => assert_eq!(record.action, "approve", "{record:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.ai_input("model-down").unwrap(), "approve");
    assert_eq!(w.model_calls(), 3);
}
