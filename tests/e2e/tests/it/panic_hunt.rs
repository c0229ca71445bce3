//! A panic hunt through the real servers: every tool (writes included; the GitHub server's
//! writes are off) called with arguments proptest makes up (random unicode, huge and negative
//! numbers, wrong types, deep nesting) for every parameter the tool declares, and every
//! GitHub read answered with made-up JSON instead of GitHub's. Every call must come back as a
//! result or a tool error; no thread of the process may panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use agent_host::mcp::Toolbox;
use e2e::approval::{World, approving_model};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sandbox::faults::Fault;
use serde_json::{Map, Value, json};

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic in the process (the servers run in it), then reports it as usual.
fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
}

/// Any JSON value, leaning on what breaks parsers: odd unicode, extreme numbers, nesting.
fn hostile_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(f64::MAX), Just(-1e308), Just(1e-308), Just(0.5)].prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        "[\\u{0}-\\u{7f}\\u{80}-\\u{10ffff}]{0,12}".prop_map(Value::from),
        (1usize..6).prop_map(|n| Value::from("\u{202E}<!--".repeat(n * 1000))),
        Just(Value::from("../../../etc/passwd")),
        Just(Value::from("a/b?c=d&e#f%00")),
    ];
    leaf.prop_recursive(8, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value nested `depth` arrays deep.
fn deep(depth: usize) -> Value {
    (0..depth).fold(json!("x"), |v, _| json!([v]))
}

#[tokio::test(flavor = "multi_thread")]
async fn no_argument_and_no_upstream_answer_makes_a_server_panic() {
    count_panics();
    let w = World::start(approving_model(), "rules: []\n")
        .await
        .unwrap();
    let pool = w.pool();
    let tools = pool.list().await;
    assert!(tools.len() > 20, "{} tools", tools.len());
    let mut runner = TestRunner::deterministic();
    let strategy = hostile_json();
    let mut calls = 0;
    for round in 0..6 {
        for t in &tools {
            let props: Vec<String> = t.schema["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            let mut args = Map::new();
            for p in &props {
                let v = if round == 0 {
                    deep(200)
                } else {
                    strategy.new_tree(&mut runner).unwrap().current()
                };
                args.insert(p.clone(), v);
            }
            let out = pool.call(&t.name, Value::Object(args)).await;
            assert!(!out.text.is_empty(), "{}: an empty answer", t.name);
            calls += 1;
        }
    }
    // GitHub answering anything at all: every read of the GitHub server, plausible arguments.
    let head = w.shop_head().unwrap();
    for _ in 0..40 {
        let body = strategy
            .new_tree(&mut runner)
            .unwrap()
            .current()
            .to_string();
        w.github
            .faults
            .set(None, "/repos/", Fault::Answer { code: 200, body }, None);
        for (name, args) in [
            (
                "github.commit_get",
                json!({"repo": "acme/shop", "sha": head}),
            ),
            (
                "github.commit_pulls",
                json!({"repo": "acme/shop", "sha": head}),
            ),
            (
                "github.pull_get",
                json!({"repo": "acme/shop", "number": 42}),
            ),
            ("github.pulls_list", json!({"repo": "acme/shop"})),
            ("github.commits_list", json!({"repo": "acme/shop"})),
            (
                "github.file_get",
                json!({"repo": "acme/shop", "path": "README.md"}),
            ),
            ("github.workflow_runs", json!({"repo": "acme/shop"})),
            ("github.security_alerts", json!({"repo": "acme/shop"})),
            (
                "github.commits_compare",
                json!({"repo": "acme/shop", "base": "main", "head": head}),
            ),
        ] {
            let out = pool.call(name, args).await;
            assert!(!out.text.is_empty(), "{name}: an empty answer");
            calls += 1;
        }
        w.github.faults.clear();
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "panics in {calls} calls");
}
