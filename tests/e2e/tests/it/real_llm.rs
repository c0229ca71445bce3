//! Both flows once against a real OpenAI-compatible server (opt-in: `tests/real-llm/run.sh`
//! starts llama.cpp's `llama-server` with SmolLM2-135M and sets `REAL_LLM_URL`). These assert
//! the safety properties, not the quality of a 135M model's judgement: no write but the AI's
//! own entry, no approve without a valid verdict, no pull request without a confirmed culprit,
//! and every call ended by the completion cap, well before the deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agent_host::approval::review::{ModeSetting, Review};
use agent_host::model::{ModelSettings, OpenAiModel, RetryPolicy};
use agent_host::rollback::schedule;
use agent_host::rollback::state::StateFile;
use e2e::approval::{AI, DIGEST, World};
use sandbox::model::Script;
use serde_json::Value;

const POLICY: &str = r#"
rules:
  - {id: no-latest, description: "No latest images", action: reject, check: image-tag, deny: [latest]}
  - {id: checks-green, description: "Checks green", action: reject, check: checks-green}
"#;

fn real_model() -> OpenAiModel {
    let url = std::env::var("REAL_LLM_URL").expect("REAL_LLM_URL: run tests/real-llm/run.sh");
    OpenAiModel::new(ModelSettings {
        base_url: url,
        api_key: "none".into(),
        model: "smollm2".into(),
        timeout: Duration::from_secs(120),
        stream: false,
        retry: RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(200),
            max_wait: Duration::from_secs(5),
        },
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(10),
        cap_param: Default::default(),
    })
    .unwrap()
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The run's calls ended by the cap, not the deadline; prints the figures the README quotes.
fn check_run(flow: &str, run: &Value, cap: u64, deadline_secs: u64) {
    let steps = run["steps"].as_u64().unwrap_or(0).max(1);
    let model_secs = run["model_micros"].as_u64().unwrap_or(0) as f64 / 1e6;
    let completion = run["completion_tokens"].as_u64().unwrap_or(0);
    let reason = run["outcome"]["reason"].as_str().unwrap_or("");
    let cut = run["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["role"] == "user"
                && m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("was cut off"))
        })
        .count();
    println!(
        "{flow}: outcome {} {reason}; {steps} call(s), {:.1} s per call, {completion} completion tokens ({}), cap {cap}, {cut} cut off by the cap",
        run["outcome"]["kind"],
        model_secs / steps as f64,
        run["usage"]
    );
    assert!(
        !reason.contains("deadline"),
        "a call ran into the deadline: {reason}"
    );
    assert!(
        completion <= steps * cap,
        "{completion} tokens over {steps} calls of cap {cap}"
    );
    assert!(
        model_secs < deadline_secs as f64 * 0.9,
        "{model_secs:.1} s of model time against a {deadline_secs} s deadline"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real model server: tests/real-llm/run.sh"]
async fn the_approval_flow_with_a_real_model_stays_safe() {
    let w = World::start(Script { rules: vec![] }, POLICY)
        .await
        .unwrap();
    let head = w.shop_head().unwrap();
    let before = w
        .create_task("real", &head, DIGEST, &["alice", AI], 2)
        .unwrap();
    let approver = w
        .approver_with(real_model(), ModeSetting::CoApprover, false)
        .await
        .unwrap();
    let cap = u64::from(approver.settings.flow.completion_cap());
    let deadline = approver.settings.flow.deadline_secs;
    let review = approver.review(&before).await.unwrap();
    let Review::Decided { record, .. } = review else {
        panic!("{review:?}")
    };
    println!(
        "approval: decision {} ({:?}): {}",
        record.action, record.applied, record.reason
    );
    let after = w.task("real").unwrap();
    // No write but our own entry.
    let mut expected = before["spec"].clone();
    expected["approvers"][1] = after["spec"]["approvers"][1].clone();
    assert_eq!(after["spec"], expected);
    assert_eq!(after["spec"]["approvers"][1]["name"], AI);
    let decision = lines(&w.audit_path())
        .into_iter()
        .find(|l| l["kind"] == "approval_decision")
        .expect("a decision line");
    let run = &decision["run"];
    if record.action == "approve" {
        let v = &run["outcome"]["value"];
        assert_eq!(
            run["outcome"]["kind"], "answer",
            "an approve needs a valid verdict"
        );
        assert_eq!(v["decision"], "approve");
        assert!(v["confidence"].as_f64().unwrap_or(0.0) >= 0.8);
    }
    if !run.is_null() {
        check_run("approval", run, cap, deadline);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a real model server: tests/real-llm/run.sh"]
async fn one_rollback_incident_with_a_real_model_stays_safe() {
    let (w, sha, _) = e2e::rollback::World::orders_incident(27).await.unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    let flow = w.flow_with(real_model(), false).unwrap();
    let cap = u64::from(flow.settings.flow.completion_cap());
    let deadline = flow.settings.flow.deadline_secs;
    for _ in 0..8 {
        for (_, report) in schedule::once(&flow, &[w.target()], &state).await.unwrap() {
            for a in report.actions.iter().chain(&report.signals) {
                println!("rollback: {a}");
            }
        }
        w.konnect.state.clock.advance(60);
    }
    let reviews: Vec<Value> = lines(&w.dir.path().join("audit.jsonl"))
        .into_iter()
        .filter(|l| l["kind"] == "rollback_review")
        .collect();
    assert!(
        !reviews.is_empty(),
        "the culprit was found and the model asked"
    );
    let pulls = w.rollback_pulls().unwrap();
    let confirmed = reviews.iter().any(|r| {
        r["outcome"]["kind"] == "answer"
            && r["outcome"]["value"]["confirm"] == true
            && r["outcome"]["value"]["culprit"] == sha.as_str()
    });
    assert!(
        pulls.is_empty() || confirmed,
        "a PR without a confirmed culprit: {pulls:?}"
    );
    assert!(pulls.len() <= 1);
    println!(
        "rollback: {} PR(s), model confirmed: {confirmed}",
        pulls.len()
    );
    for r in &reviews {
        check_run("rollback", r, cap, deadline);
    }
}
