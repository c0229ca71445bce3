//! The rollback flow end to end: Konnect, GitHub and Slack emulators, our three servers over
//! Streamable HTTP, the scripted model, the Konnect emulator's clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::rollback::schedule;
use agent_host::rollback::state::StateFile;
use e2e::rollback::World;
use sandbox::model::Script;
use serde_json::json;

const ONSET_LINE: &str =
    "  - {route: orders-route, from: -123m, status: 503, ratio: 1.0, latency_ms: 3}";

fn confirms(culprit: &str) -> Script {
    serde_json::from_value(json!({"rules": [{"reply": {"tool_calls": [{"name": "submit_answer", "arguments": {
        "culprit": culprit, "confirm": true, "confidence": 0.9,
        "explanation": "The commit moved the orders service to orders-v2:8081; every request to orders-route has failed with 503 since its deploy."}}]}}]}))
    .unwrap()
}

fn rollback_pulls(w: &World) -> Vec<(u64, String, String)> {
    w.github
        .state
        .with_repo("acme/kong-config", |r| {
            r.pulls
                .iter()
                .filter(|p| p.head_ref.starts_with("auto-rollback/"))
                .map(|p| (p.number, p.head_ref.clone(), p.head_sha.clone()))
                .collect()
        })
        .unwrap()
}

async fn ticks(w: &World, state: &StateFile, n: usize) {
    let flow = w.flow(false).unwrap();
    for _ in 0..n {
        schedule::once(&flow, &[w.target()], state).await.unwrap();
        w.konnect.state.clock.advance(60);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breaking_config_change_is_reverted_once_and_announced_once() {
    // The errors stop ten minutes from now (absolute time: the scenario counts relative times back).
    let until = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_mins(10))
        .unwrap();
    let line = format!(
        "  - {{route: orders-route, from: -123m, until: \"{until}\", status: 503, ratio: 1.0, latency_ms: 3}}"
    );
    let w = World::start(move |s| s.replace(ONSET_LINE, &line), confirms)
        .await
        .unwrap();
    let culprit = World::culprit_of(&w.github).unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    let flow = w.flow(false).unwrap();
    // failure_limit 2: the third failing measurement opens the incident.
    for i in 0..3 {
        let r = schedule::once(&flow, &[w.target()], &state).await.unwrap();
        assert_eq!(
            rollback_pulls(&w).len(),
            usize::from(i == 2),
            "tick {i}: {r:?}"
        );
        w.konnect.state.clock.advance(60);
    }
    let pulls = rollback_pulls(&w);
    let (number, branch, head) = pulls[0].clone();
    assert_eq!(branch, format!("auto-rollback/{}", &culprit[..7]));
    // Tree-checked: kong.yaml is the culprit's parent's, the later README change stays.
    w.github
        .state
        .with_repo("acme/kong-config", |r| {
            let parent = r.odb.commit(&culprit).unwrap().parents[0].clone();
            let before = r.files_at(&parent);
            let main = r.files_at(&r.resolve("main").unwrap());
            let reverted = r.files_at(&head);
            assert_eq!(reverted["kong.yaml"], before["kong.yaml"]);
            assert_eq!(reverted["README.md"], main["README.md"]);
            let pr = r.pull(number).unwrap();
            assert!(pr.labels.contains(&"auto-rollback".to_string()));
            assert!(pr.body.contains(&culprit) && pr.body.contains("<untrusted-data"));
        })
        .unwrap();
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(
        posted[0].text.contains(&format!("/pull/{number}"))
            || posted[0].text.contains(&format!("#{number}"))
            || posted[0].text.contains("pull"),
        "{}",
        posted[0].text
    );
    assert_eq!(w.model.state.requests().len(), 1);
    // More ticks, then a restart with the same state, then one that lost its state: one PR.
    ticks(&w, &state, 2).await;
    ticks(&w, &state, 1).await;
    assert_eq!(rollback_pulls(&w).len(), 1);
    std::fs::remove_file(w.dir.path().join("state.json")).unwrap();
    ticks(&w, &state, 3).await;
    assert_eq!(
        rollback_pulls(&w).len(),
        1,
        "an open PR for the same commit is updated, not duplicated"
    );
    // The errors stop: a recovery reply in the incident's thread.
    w.konnect.state.clock.advance(30 * 60);
    let flow = w.flow(false).unwrap();
    let last = schedule::once(&flow, &[w.target()], &state).await.unwrap();
    let posted = w.slack.state.posted();
    let recovery = posted
        .iter()
        .find(|p| p.text.contains("Recovered"))
        .unwrap_or_else(|| panic!("no recovery message: {last:?} {posted:?}"));
    // The state file was lost above, so the original message's ts is unknown: the recovery
    // names the PR instead of replying in the thread.
    assert!(
        recovery.text.contains(&format!("/pull/{number}")),
        "{recovery:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_traffic_and_failing_queries_cost_nothing() {
    let w = World::start(|s| s.replace(ONSET_LINE, ""), confirms)
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
    assert!(rollback_pulls(&w).is_empty() && w.slack.state.posted().is_empty());
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
    assert!(rollback_pulls(&w).is_empty());
    assert_eq!(w.model.state.requests().len(), 0);
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].text.contains("No config change explains it"),
        "{}",
        posted[0].text
    );
}
