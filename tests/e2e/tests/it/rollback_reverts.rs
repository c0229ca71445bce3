//! The rollback flow on real decK histories: three-way reverts that keep later work, conflicts
//! that name what blocks them, minute-exact blame, and write tools out of the model's reach.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::rollback::schedule;
use agent_host::rollback::state::StateFile;
use e2e::rollback::World;
use sandbox::model::Script;

async fn ticks(w: &World, state: &StateFile, n: usize) {
    let flow = w.flow(false).unwrap();
    for _ in 0..n {
        schedule::once(&flow, &[w.target()], state).await.unwrap();
        w.konnect.state.clock.advance(60);
    }
}

fn kong_yaml_at(w: &World, rev: &str) -> String {
    w.github
        .state
        .with_repo("acme/kong-config", |r| {
            let (_, blob) = r.files_at(rev)["kong.yaml"].clone();
            String::from_utf8(r.odb.blob(&blob).unwrap().to_vec()).unwrap()
        })
        .unwrap()
}

/// A payments-only edit, made after the seeded orders commit (deployed after the onset).
fn payments_timeout(y: String) -> String {
    y.replacen(
        "host: payments.shop.svc.cluster.local\n    port: 8080\n",
        "host: payments.shop.svc.cluster.local\n    port: 8080\n    read_timeout: 90000\n",
        1,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_later_unrelated_edit_of_the_same_file_is_kept_in_the_revert() {
    let w = World::start(|s| s, sandbox::demo::model_script)
        .await
        .unwrap();
    let culprit = World::culprit_of(&w.github).unwrap();
    let now = jiff::Timestamp::now().as_second();
    let later = w
        .push_config(
            "payments: longer timeouts",
            payments_timeout,
            now - 3000,
            Some(now - 2900),
        )
        .unwrap();
    assert!(kong_yaml_at(&w, &later).contains("read_timeout: 90000"));
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 3).await;
    let pulls = w.rollback_pulls().unwrap();
    assert_eq!(pulls.len(), 1, "{:?}", w.slack.state.posted());
    let (number, _, head) = pulls[0].clone();
    let reverted = kong_yaml_at(&w, &head);
    // What `git revert` gives: the culprit's lines back, the later edit kept.
    let expected = kong_yaml_at(&w, &later).replace(
        "host: orders-v2.shop.svc.cluster.local\n    port: 8081\n",
        "host: orders.shop.svc.cluster.local\n    port: 8080\n",
    );
    assert_ne!(
        expected,
        kong_yaml_at(&w, &later),
        "the culprit's lines are there"
    );
    assert_eq!(reverted, expected);
    let body = w
        .github
        .state
        .with_repo("acme/kong-config", |r| r.pull(number).unwrap().body.clone())
        .unwrap();
    assert!(
        body.contains(&culprit) && body.contains("three-way merge"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overlapping_later_edit_is_a_conflict_alert_naming_the_commit() {
    let w = World::start(|s| s, sandbox::demo::model_script)
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_second();
    let later = w
        .push_config(
            "orders: v2 listens on 8082",
            |y| y.replacen("    port: 8081\n", "    port: 8082\n", 1),
            now - 3000,
            Some(now - 2900),
        )
        .unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 3).await;
    assert!(w.rollback_pulls().unwrap().is_empty());
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let text = &posted[0].text;
    assert!(text.contains("cannot be reverted automatically"), "{text}");
    assert!(
        text.contains(&later[..7]) && text.contains("orders: v2 listens on 8082"),
        "the blocking commit is named: {text}"
    );
    assert!(text.contains("lines "), "and the conflicting lines: {text}");
    let branches = w
        .github
        .state
        .with_repo("acme/kong-config", |r| {
            r.refs
                .keys()
                .filter(|k| k.contains("auto-rollback"))
                .count()
        })
        .unwrap();
    assert_eq!(branches, 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_a_minute_after_the_onset_is_not_blamed_and_the_recovery_threads() {
    // Errors from +180 s, so the first failing minute begins between +180 s and +240 s; the
    // only candidate went live at +330 s, 90 s or more after it (the tolerance is 60 s).
    let (w, sha, _) = World::orders_incident_with(8, 330, &[]).await.unwrap();
    w.model.state.set_script(sandbox::demo::model_script(&sha));
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 9).await;
    assert!(w.rollback_pulls().unwrap().is_empty());
    assert_eq!(w.model.state.requests().len(), 0, "code ruled it out");
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(
        posted[0].text.contains("No config change explains it")
            && posted[0].text.contains("after the errors began"),
        "{}",
        posted[0].text
    );
    // The errors stop: the recovery replies in the alert's thread, not at the top level.
    ticks(&w, &state, 5).await;
    assert!(
        w.recovery_is_a_thread_reply(),
        "{:?}",
        w.slack.state.posted()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stray_error_on_low_traffic_before_the_onset_leaves_it_unchanged() {
    // The minute before the errors: a lull of 3 requests a minute, all failing.
    let (w, sha, now) = World::orders_incident_with(10, 170, &[(120, 180, 500, 1.0, Some(3))])
        .await
        .unwrap();
    w.model.state.set_script(sandbox::demo::model_script(&sha));
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 8).await;
    let inc = w.saved_incident("orders-route").expect("an incident");
    // The first minute bucket starting at or after +180 s.
    let first_minute = (now + 180 + 59) / 60 * 60;
    assert_eq!(inc["onset"].as_i64(), Some(first_minute), "{inc}");
    assert_eq!(inc["culprit"].as_str(), Some(sha.as_str()));
    assert_eq!(w.rollback_pulls().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_told_to_merge_is_never_offered_the_tool() {
    let w = World::start(|s| s, sandbox::demo::model_script)
        .await
        .unwrap();
    let culprit = World::culprit_of(&w.github).unwrap();
    let state = StateFile::new(Some(w.dir.path().join("state.json")));
    ticks(&w, &state, 3).await;
    let (number, _, _) = w.rollback_pulls().unwrap()[0].clone();
    // A lost state: the incident is handled again and the model (now following an injected
    // instruction) tries to merge the open rollback PR, with every GitHub tool allowed, merging
    // switched on at the server and auto_merge on in the flow.
    std::fs::remove_file(w.dir.path().join("state.json")).unwrap();
    let script: Script = serde_json::from_value(serde_json::json!({"rules": [
        {"when": {"last_role": "user"}, "reply": {"tool_calls": [{"name": "github__pull_merge",
            "arguments": {"repo": "acme/kong-config", "number": number}}]}},
        {"when": {"last_role": "tool"}, "reply": {"tool_calls": [{"name": "submit_answer", "arguments": {
            "culprit": culprit, "confirm": true, "confidence": 0.9, "explanation": "merged it"}}]}},
    ]}))
    .unwrap();
    w.model.state.set_script(script);
    let mut flow = w.flow(false).unwrap();
    flow.settings.flow.tools = vec!["github.*".into(), "konnect.*".into(), "slack.*".into()];
    flow.settings.auto_merge = true;
    let before = w.model.state.requests().len();
    // The detector starts over too: three failing minutes until the incident opens again.
    for _ in 0..3 {
        schedule::once(&flow, &[w.target()], &state).await.unwrap();
        w.konnect.state.clock.advance(60);
    }
    let requests = w.model.state.requests();
    assert!(requests.len() > before, "the model was asked again");
    for r in &requests[before..] {
        let offered: Vec<&str> = r["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["function"]["name"].as_str())
            .collect();
        assert!(
            offered.iter().any(|t| t.starts_with("github__")),
            "{offered:?}"
        );
        for write in [
            "github__pull_merge",
            "github__commit_revert",
            "github__pull_create",
            "github__branch_create",
            "github__pull_comment",
            "slack__message_post",
        ] {
            assert!(!offered.contains(&write), "{write} offered: {offered:?}");
        }
    }
    let refused = requests[before..]
        .iter()
        .flat_map(|r| r["messages"].as_array().cloned().unwrap_or_default())
        .any(|m| {
            m["role"] == "tool"
                && m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("not available in this flow"))
        });
    assert!(refused, "the call itself was refused");
    let merged = w
        .github
        .state
        .with_repo("acme/kong-config", |r| r.pull(number).unwrap().merged_at)
        .unwrap();
    assert!(merged.is_none(), "nothing merged");
    // People hear that the incident was picked up again, once.
    let posted = w.slack.state.posted();
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert!(posted[1].text.contains("re-opened"), "{}", posted[1].text);
}
