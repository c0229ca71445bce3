//! Every fault at every step of a review: for each endpoint a review touches (the approval
//! context, the commit, its pull requests, the pull request, the alerts, the model, the
//! decision record, the vote) and each fault an upstream produces (503, 429 with Retry-After,
//! a hang, a body cut in half), the faulted review casts no vote and records no decision a
//! retry cannot redo; once the fault clears the task is approved, exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::approval::review::{ModeSetting, Review};
use e2e::approval::{AI, DIGEST, World, approving_model};
use sandbox::faults::{Fault, Faults};

use crate::approval_faults::POLICY;

/// Which emulator, which method, which path fragment: one step of a review.
#[derive(Clone, Copy, Debug)]
enum Upstream {
    Kube,
    GitHub,
    Model,
}

const STEPS: &[(&str, Upstream, Option<&str>, &str)] = &[
    (
        "approval context",
        Upstream::Kube,
        Some("GET"),
        "/approvaltasks/",
    ),
    ("commit", Upstream::GitHub, Some("GET"), "/commits/"),
    ("pull request", Upstream::GitHub, Some("GET"), "/pulls/"),
    ("alerts", Upstream::GitHub, Some("GET"), "/alerts"),
    ("model", Upstream::Model, Some("POST"), "/chat/completions"),
    (
        "decision record",
        Upstream::Kube,
        Some("POST"),
        "/configmaps",
    ),
    ("vote", Upstream::Kube, Some("PATCH"), "/approvaltasks/"),
];

fn faults_of(w: &World, u: Upstream) -> &Faults {
    match u {
        Upstream::Kube => &w.kube.faults,
        Upstream::GitHub => &w.github.faults,
        Upstream::Model => &w.model.faults,
    }
}

async fn matrix(fault: Fault, label: &str) {
    let w = World::start(approving_model(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let approver = w.approver(ModeSetting::CoApprover, false).await.unwrap();
    let mut problems = Vec::new();
    for (i, (step, upstream, method, path)) in STEPS.iter().enumerate() {
        let name = format!("f{i}");
        let t0 = std::time::Instant::now();
        w.create_task(&name, &head, DIGEST, &["alice", AI], 2)
            .unwrap();
        let faults = faults_of(&w, *upstream);
        let before = faults.fired();
        faults.set(*method, path, fault.clone(), None);
        let first = approver.review(&w.task(&name).unwrap()).await;
        faults.clear();
        if faults.fired() == before {
            problems.push(format!("{step}: the fault never fired"));
        }
        eprintln!("{label} {step}: faulted review {:?}", t0.elapsed());
        let input = w.ai_input(&name).unwrap();
        // A body cut after the vote landed loses only the answer: the vote itself is the
        // decision, and it must then be recorded once.
        let lost_answer = fault == Fault::Truncate && *step == "vote";
        if input != "pending" && !lost_answer {
            problems.push(format!("{step}: the faulted review voted {input}"));
        }
        if let Ok(Review::Decided { record, .. }) = &first
            && record.applied.is_some()
        {
            problems.push(format!("{step}: decided during the fault: {record:?}"));
        }
        // The fault cleared: approved, once.
        let mut decided = 0;
        for _ in 0..2 {
            match approver.review(&w.task(&name).unwrap()).await {
                Ok(Review::Decided { record, .. } | Review::Resumed(record)) => {
                    decided += 1;
                    if record.action != "approve" {
                        problems.push(format!("{step}: decided {} after the fault", record.action));
                    }
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{step}: after the fault: {e}")),
            }
        }
        eprintln!("{label} {step}: all {:?}", t0.elapsed());
        let input = w.ai_input(&name).unwrap();
        if decided != 1 || input != "approve" {
            problems.push(format!(
                "{step}: {decided} decisions after the fault, the entry is {input} (first: {first:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{label}:\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_at_any_step_is_retried() {
    matrix(
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        "503",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_at_any_step_is_retried() {
    matrix(
        Fault::Status {
            code: 429,
            retry_after: Some(1),
        },
        "429",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hang_at_any_step_is_retried() {
    matrix(Fault::Hang, "hang").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_body_at_any_step_is_retried() {
    matrix(Fault::Truncate, "truncated").await;
}
