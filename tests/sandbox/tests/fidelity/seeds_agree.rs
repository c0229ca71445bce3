//! The seeds tell one story: the PipelineRun waiting for approval builds a commit that exists
//! in the GitHub emulator, and the Konnect failure starts right after the kong-config deploy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandbox::{github, konnect, kube};

#[test]
fn the_pipeline_builds_the_shop_repositorys_head_commit() {
    let repos = github::seed::load_dir(&github::default_seeds_dir(), github::now()).unwrap();
    let shop = repos.iter().find(|r| r.full_name() == "acme/shop").unwrap();
    let head = shop.resolve("main").unwrap();
    let cluster = kube::Cluster::new();
    kube::load_dir(&cluster, &kube::default_seeds_dir()).unwrap();
    let text = std::fs::read_to_string(kube::default_seeds_dir().join("10-ci.yaml")).unwrap();
    assert!(
        text.contains(&format!("value: \"{head}\"")),
        "the PipelineRun's git-revision must be acme/shop's head {head}"
    );
    assert!(text.contains("https://github.com/acme/shop.git"));
}

#[test]
fn the_konnect_failure_starts_after_the_kong_config_deploy() {
    let now = github::now();
    let repos = github::seed::load_dir(&github::default_seeds_dir(), now).unwrap();
    let kong = repos
        .iter()
        .find(|r| r.full_name() == "acme/kong-config")
        .unwrap();
    let culprit = kong.odb.first_parent_log(&kong.resolve("main").unwrap())[1].clone();
    let deploy = kong.runs.iter().find(|r| r.head_sha == culprit).unwrap();
    let scenario = konnect::Scenario::load(&konnect::default_scenario(), now).unwrap();
    let orders = scenario
        .routes
        .iter()
        .position(|r| r.route_name == "orders-route")
        .unwrap();
    let minute = |t: i64| t - t.rem_euclid(60);
    let before = scenario.minute(orders, minute(deploy.updated_at) - 120);
    let after = scenario.minute(orders, minute(deploy.updated_at) + 120);
    assert!(
        before.by_status.iter().all(|(s, _, _)| *s < 500),
        "healthy before the deploy finished"
    );
    assert!(
        after.by_status.iter().all(|(s, _, _)| *s == 503),
        "failing after it"
    );
}
