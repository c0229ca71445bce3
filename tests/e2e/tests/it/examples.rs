//! The example files not exercised elsewhere: the kong-config template parses with the rollback
//! flow's decK reader and its workflows trigger as documented; the approval example pipeline
//! carries the AI as a co-approver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::rollback::deck;
use e2e::approval::{AI, root};
use serde_json::Value;

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(root().join(path)).unwrap()).unwrap()
}

#[test]
fn the_kong_config_template_is_what_the_rollback_flow_reads() {
    let text = std::fs::read_to_string(root().join("examples/kong-config/kong.yaml")).unwrap();
    let after = deck::parse(&text).unwrap();
    let touched = deck::touched(None, &after);
    assert_eq!(touched.route_service["orders-route"], "orders");
    assert!(touched.plugins.contains("service:catalog/rate-limiting"));
    assert!(touched.plugins.contains("global/correlation-id"));
    let sync = yaml("examples/kong-config/.github/workflows/sync.yaml");
    assert_eq!(sync["on"]["push"]["branches"][0], "main");
    assert!(sync.to_string().contains("deck gateway sync"));
    let validate = yaml("examples/kong-config/.github/workflows/validate.yaml");
    assert!(validate["on"]["pull_request"].is_object());
    assert!(validate.to_string().contains("deck gateway validate"));
}

#[test]
fn the_example_pipeline_lists_the_ai_as_one_of_two_approvers() {
    let p = yaml("examples/approval/pipeline.yaml");
    let task = p["spec"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["taskRef"]["kind"] == "ApprovalTask")
        .unwrap();
    let params = task["params"].as_array().unwrap();
    let approvers = &params.iter().find(|x| x["name"] == "approvers").unwrap()["value"];
    assert!(approvers.as_array().unwrap().iter().any(|a| a == AI));
    let required = &params
        .iter()
        .find(|x| x["name"] == "numberOfApprovalsRequired")
        .unwrap()["value"];
    assert_eq!(required, "2", "a human still signs");
}
