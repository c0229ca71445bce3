//! The rollback flow end to end: Konnect, GitHub and Slack emulators, our three servers over
//! Streamable HTTP, the scripted model, the Konnect emulator's clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::rollback::schedule;
use agent_host::rollback::state::StateFile;
use e2e::rollback::{SEEDED_ONSET, World};
use sandbox::model::Script;

/// The model confirms the commit code found.
fn confirms(culprit: &str) -> Script {
    sandbox::demo::model_script(culprit)
}

async fn ticks(w: &World, state: &StateFile, n: usize) {
    let flow = w.flow(false).unwrap();
    for _ in 0..n {
        schedule::once(&flow, &[w.target()], state).await.unwrap();
        w.konnect.state.clock.advance(60);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_breaks_a_route_is_reverted_once_and_announced_once() {
    // No failure yet; orders-route starts answering 503 three minutes from now, for ten minutes.
    let (w, sha, _) = World::orders_incident(10).await.unwrap();
    // The model confirms the commit code found (its script needs the id, known only now).
    w.model.state.set_script(confirms(&sha));
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    let mut opened_at = None;
    for minute in 0..10 {
        let flow = w.flow(false).unwrap();
        schedule::once(&flow, &[w.target()], &state).await.unwrap();
        if opened_at.is_none() && !w.rollback_pulls().unwrap().is_empty() {
            opened_at = Some(minute * 60);
        }
        w.konnect.state.clock.advance(60);
    }
    let opened_at = opened_at.expect("a rollback PR");
    // Errors from +180 s; failure_limit 2 means three failing one-minute measurements in a row:
    // never before the third minute of errors, and by the fourth (minute buckets may split the
    // first one). The latency itself is measured by `rollback-bench`.
    let after = opened_at - 180;
    assert!(
        (120..=240).contains(&after),
        "opened {after} s after the onset"
    );
    let pulls = w.rollback_pulls().unwrap();
    assert_eq!(pulls.len(), 1);
    let (number, branch, head) = pulls[0].clone();
    assert_eq!(branch, format!("auto-rollback/{}", &sha[..7]));
    w.github
        .state
        .with_repo("acme/kong-config", |r| {
            let parent = r.odb.commit(&sha).unwrap().parents[0].clone();
            assert_eq!(
                r.files_at(&head)["kong.yaml"],
                r.files_at(&parent)["kong.yaml"],
                "exactly that commit reverted"
            );
            let pr = r.pull(number).unwrap();
            // The model's explanation is quoted (defused), not fenced: people read the body.
            assert!(
                pr.body.contains(&sha)
                    && pr
                        .body
                        .contains("**Explanation** (model-written, from the evidence):\n> ")
                    && !pr.body.contains("<untrusted-data"),
                "{}",
                pr.body
            );
            assert!(pr.labels.contains(&"auto-rollback".to_string()));
        })
        .unwrap();
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(
        posted[0].text.contains(&format!("/pull/{number}")),
        "{}",
        posted[0].text
    );
    assert_eq!(w.model.state.requests().len(), 1);
    // A restart with the same state: still one PR, one message.
    ticks(&w, &state, 2).await;
    assert_eq!(
        (
            w.rollback_pulls().unwrap().len(),
            w.slack.state.posted().len()
        ),
        (1, 1)
    );
    // The errors stop: the recovery is a reply in the incident's thread.
    w.konnect.state.clock.advance(10 * 60);
    ticks(&w, &state, 1).await;
    assert!(
        w.recovery_is_a_thread_reply(),
        "{:?}",
        w.slack.state.posted()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_state_does_not_duplicate_the_pull_request() {
    let w = World::start(|s| s, confirms).await.unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 3).await;
    let pulls = w.rollback_pulls().unwrap();
    assert_eq!(pulls.len(), 1, "the seeded orders-v2 incident");
    std::fs::remove_file(w.dir.path().join("state.json")).unwrap();
    ticks(&w, &state, 3).await;
    assert_eq!(
        w.rollback_pulls().unwrap(),
        pulls,
        "the open PR for the same commit is updated instead"
    );
    let comments = w
        .github
        .state
        .with_repo("acme/kong-config", |r| {
            r.pull(pulls[0].0).unwrap().comments.len()
        })
        .unwrap();
    assert_eq!(comments, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_traffic_and_failing_queries_cost_nothing() {
    let w = World::start(|s| s.replace(SEEDED_ONSET, ""), confirms)
        .await
        .unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 12).await;
    w.konnect.state.time_out_next(8);
    ticks(&w, &state, 8).await;
    assert_eq!(
        w.model.state.requests().len(),
        0,
        "no model call while healthy"
    );
    assert!(w.rollback_pulls().unwrap().is_empty() && w.slack.state.posted().is_empty());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.dir.path().join("state.json")).unwrap())
            .unwrap();
    assert!(
        saved["planes"]["shop-prod"]["detector"]["query_errors"]
            .as_u64()
            .unwrap()
            >= 5
    );
    assert!(
        saved["planes"]["shop-prod"]["incidents"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_that_began_before_the_deploy_blame_nobody() {
    let w = World::start(|s| s.replace("from: -123m", "from: -200m"), confirms)
        .await
        .unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 4).await;
    assert!(w.rollback_pulls().unwrap().is_empty());
    assert_eq!(w.model.state.requests().len(), 0);
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].text.contains("No config change explains it"),
        "{}",
        posted[0].text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_merge_waits_for_green_checks() {
    let w = World::start(|s| s, confirms).await.unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    let mut flow = w.flow(false).unwrap();
    flow.settings.auto_merge = true;
    let mut actions = Vec::new();
    for _ in 0..3 {
        for (_, r) in schedule::once(&flow, &[w.target()], &state).await.unwrap() {
            actions.extend(r.actions);
        }
        w.konnect.state.clock.advance(60);
    }
    let (number, _, head) = w.rollback_pulls().unwrap()[0].clone();
    assert!(
        actions.iter().any(|a| a.contains("waits for green checks")),
        "{actions:?}"
    );
    let merged = |w: &World| {
        w.github
            .state
            .with_repo("acme/kong-config", |r| {
                r.pull(number).unwrap().merged_at.is_some()
            })
            .unwrap()
    };
    assert!(!merged(&w), "no checks yet: not merged");
    // The PR's validation finishes green; the next tick merges.
    w.github
        .state
        .with_repo("acme/kong-config", |r| {
            r.checks.insert(
                head.clone(),
                vec![sandbox::github::repo::CheckRun {
                    name: "deck gateway validate".into(),
                    status: "completed".into(),
                    conclusion: Some("success".into()),
                }],
            );
        })
        .unwrap();
    let r = schedule::once(&flow, &[w.target()], &state).await.unwrap();
    assert!(merged(&w), "{r:?}");
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 2, "the incident message and one update");
    assert_eq!(posted[1].thread_ts.as_deref(), Some(posted[0].ts.as_str()));
    assert!(posted[1].text.contains("merged"));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_simulate_the_detector_without_writing_its_state() {
    let w = World::start(|s| s, confirms).await.unwrap();
    let path = w.dir.path().join("state.json");
    let state = StateFile::new(Some(path.clone()));
    let flow = w.flow(true).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let reports = schedule::once(&flow, &[w.target()], &state).await.unwrap();
        let (_, r) = &reports[0];
        let orders = r.routes.iter().find(|l| l.route == "orders-route").unwrap();
        seen.push(orders.status.to_string());
        if orders.status == agent_host::rollback::detector::Status::Incident {
            assert!(
                r.actions.iter().any(|a| a.starts_with("would revert")),
                "{:?}",
                r.actions
            );
        }
        let payments = r
            .routes
            .iter()
            .find(|l| l.route == "payments-route")
            .unwrap();
        assert_eq!(payments.status.to_string(), "healthy");
        w.konnect.state.clock.advance(60);
    }
    assert_eq!(seen, ["failing 1/3", "failing 2/3", "incident"]);
    assert!(
        !path.exists(),
        "the live state is never written by a dry run"
    );
    assert!(w.dir.path().join("state.json.dry-run").exists());
    assert!(w.rollback_pulls().unwrap().is_empty() && w.slack.state.posted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_outage_is_retried_in_the_incident_thread_never_a_final_outcome() {
    let w = World::start(|s| s, confirms).await.unwrap();
    // GitHub's secondary rate limit for the next many requests (retry after two minutes).
    w.github.state.secondary_limit(10_000, 120);
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 5).await;
    assert!(w.rollback_pulls().unwrap().is_empty());
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1, "one message, not one per tick: {posted:?}");
    assert!(
        posted[0].text.contains("could not be read") && posted[0].text.contains("retried"),
        "{}",
        posted[0].text
    );
    // GitHub is back: the next tick finishes the job, in the same thread.
    w.github.state.secondary_limit(0, 0);
    ticks(&w, &state, 1).await;
    assert_eq!(w.rollback_pulls().unwrap().len(), 1);
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert_eq!(posted[1].thread_ts.as_deref(), Some(posted[0].ts.as_str()));
    assert!(posted[1].text.contains("/pull/"), "{}", posted[1].text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_outage_delays_the_revert_never_refuses_it() {
    let (w, sha, _) = World::orders_incident(12).await.unwrap();
    // The provider is down for the first reviews, then confirms.
    let mut script = confirms(&sha);
    script.rules.insert(
        0,
        serde_json::from_value(serde_json::json!({"reply": {"status": 503}, "times": 2})).unwrap(),
    );
    w.model.state.set_script(script);
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    let mut outcomes = Vec::new();
    for _ in 0..12 {
        let flow = w.flow(false).unwrap();
        schedule::once(&flow, &[w.target()], &state).await.unwrap();
        if let Some(i) = w.saved_incident("orders-route") {
            outcomes.push(i["outcome"].as_str().unwrap_or_default().to_string());
        }
        w.konnect.state.clock.advance(60);
    }
    assert!(
        outcomes
            .iter()
            .any(|o| o == "retry: the model was unavailable"),
        "{outcomes:?}"
    );
    assert!(
        !outcomes.iter().any(|o| o.contains("did not confirm")),
        "an outage is no refusal: {outcomes:?}"
    );
    assert_eq!(w.rollback_pulls().unwrap().len(), 1, "{outcomes:?}");
    assert_eq!(w.model.state.requests().len(), 3);
}
