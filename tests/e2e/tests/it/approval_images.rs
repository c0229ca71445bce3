//! Every image the run will deploy, through the real servers: an image only an embedded
//! spec's sidecar names is seen (and rejected when denied), a Task the server cannot read makes
//! the image rules inconclusive (a human decides), and autonomy never follows a name the run's
//! author chose for an embedded spec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::approval::review::{ModeSetting, Review};
use e2e::approval::{AI, DIGEST, World, approving_model};
use serde_json::{Value, json};

const POLICY: &str = r#"
rules:
  - {id: no-latest, description: "No latest images", action: reject, check: image-tag, deny: [latest]}
  - {id: pinned, description: "Pinned images", action: require-human, check: image-digest}
autonomy: {namespaces: [ci], pipelines: ["build-and-deploy"]}
"#;

fn entries() -> Vec<Value> {
    [AI, "alice"]
        .iter()
        .map(|a| json!({"name": a, "type": "User", "input": "pending"}))
        .collect()
}

/// A run of an embedded pipeline that builds `revision` and deploys `DIGEST`, with `extra`
/// as its one task's spec.
fn embedded(revision: &str, task_spec: Value) -> Value {
    json!({
        "params": [{"name": "git-url", "value": "https://github.com/acme/shop.git"},
            {"name": "git-revision", "value": revision}, {"name": "image", "value": DIGEST}],
        "pipelineSpec": {
            "params": [{"name": "git-url"}, {"name": "git-revision"}, {"name": "image"}],
            "tasks": [{"name": "deploy", "taskSpec": task_spec,
                "params": [{"name": "IMAGE", "value": "$(params.image)"}]}],
        },
    })
}

async fn decide(w: &World, name: &str, mode: ModeSetting) -> agent_host::approval::store::Record {
    let approver = w.approver(mode, false).await.unwrap();
    match approver.review(&w.task(name).unwrap()).await.unwrap() {
        Review::Decided { record, .. } => record,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sidecar_of_an_embedded_spec_is_an_image_the_run_deploys() {
    let w = World::start(approving_model(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let spec = embedded(
        &head,
        json!({"steps": [{"name": "apply", "image": DIGEST}],
            "sidecars": [{"name": "proxy", "image": "registry.example.com/proxy:latest"}]}),
    );
    w.create_on_run("sidecar", spec, entries(), 2, "Deploy")
        .unwrap();
    let rec = decide(&w, "sidecar", ModeSetting::CoApprover).await;
    assert_eq!(rec.action, "reject", "{rec:?}");
    assert!(rec.reason.contains("proxy:latest"), "{}", rec.reason);
    assert_eq!(w.model_calls(), 0, "a policy reject needs no model");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_task_leaves_the_image_rules_to_a_human() {
    let w = World::start(approving_model(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    let spec = json!({
        "params": [{"name": "git-url", "value": "https://github.com/acme/shop.git"},
            {"name": "git-revision", "value": head}, {"name": "image", "value": DIGEST}],
        "pipelineSpec": {"tasks": [{"name": "deploy", "taskRef": {"name": "no-such-task"}}]},
    });
    w.create_on_run("gone", spec, entries(), 2, "Deploy")
        .unwrap();
    let rec = decide(&w, "gone", ModeSetting::CoApprover).await;
    assert_eq!(rec.action, "abstain", "{rec:?}");
    assert!(rec.reason.contains("no-such-task"), "{}", rec.reason);
}

#[tokio::test(flavor = "multi_thread")]
async fn autonomy_follows_the_pipeline_object_not_a_chosen_name() {
    let w = World::start(approving_model(), POLICY).await.unwrap();
    let head = w.shop_head().unwrap();
    // One approval needed: inside its autonomy scope a full approver signs alone.
    let one = vec![json!({"name": AI, "type": "User", "input": "pending"})];
    w.create_task_with("referenced", &head, DIGEST, one.clone(), 1)
        .unwrap();
    let rec = decide(&w, "referenced", ModeSetting::FullApprover).await;
    assert_eq!(rec.action, "approve", "{rec:?}");
    // The same change in an embedded spec whose run is labelled `build-and-deploy`: no
    // Pipeline object, so outside the scope, and the AI only recommends.
    let spec = embedded(
        &head,
        json!({"steps": [{"name": "apply", "image": DIGEST}]}),
    );
    w.create_on_run("embedded", spec, one, 1, "Deploy").unwrap();
    let rec = decide(&w, "embedded", ModeSetting::FullApprover).await;
    assert_eq!(rec.action, "recommend-approve", "{rec:?}");
}
