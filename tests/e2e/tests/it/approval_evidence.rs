//! The approval flow's evidence, policy facts and decision inputs gathered from the real
//! servers: the Kubernetes emulator behind mcp-kubernetes and the GitHub emulator behind
//! mcp-github, both reached through the agent host's pool over Streamable HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::approval::{evidence, facts, policy};
use agent_host::mcp::{AllowList, Endpoint, Pool, Scoped, ServerSpec};
use mcp_runtime::ServerArgs;
use sandbox::{github, kube};

const TASK: &str = "build-and-deploy-run-1-approve-deploy";

#[tokio::test(flavor = "multi_thread")]
async fn evidence_from_the_cluster_and_the_repository() {
    mcp_runtime::telemetry::install_crypto_provider();
    let k = kube::spawn_seeded().await.unwrap();
    let gh = github::spawn_seeded().await.unwrap();
    let client = e2e::approval::client_for(&k, "ai-approver").await.unwrap();
    let cluster = mcp_kubernetes::cluster::Cluster::new(
        client,
        mcp_kubernetes::cluster::Scoping {
            namespaces: vec![],
            denied_kinds: vec![],
            identity: None,
        },
    );
    let args = ServerArgs {
        read_only: true,
        ..ServerArgs::default()
    };
    let kube_mcp = e2e::host(mcp_kubernetes::KubernetesServer::new(cluster), &args)
        .await
        .unwrap();
    let gh_client = mcp_github::client::GitHub::new(
        &gh.url(),
        Some(github::TOKEN.to_string()),
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let gh_mcp = e2e::host(
        mcp_github::GitHubServer::new(
            gh_client,
            mcp_github::scope::Scope::new(vec!["acme/shop".into()]),
            false,
        ),
        &args,
    )
    .await
    .unwrap();
    let pool = Pool::new(vec![
        ServerSpec {
            name: "kubernetes".into(),
            endpoint: Endpoint::Http {
                url: kube_mcp.url.clone(),
                token: Some(kube_mcp.token.clone()),
            },
        },
        ServerSpec {
            name: "github".into(),
            endpoint: Endpoint::Http {
                url: gh_mcp.url.clone(),
                token: Some(gh_mcp.token.clone()),
            },
        },
    ]);
    let allow = AllowList::new(vec![
        "kubernetes.approval_context".into(),
        "github.*".into(),
    ]);
    let tools = Scoped {
        pool: &pool,
        allow: &allow,
    };

    let e = evidence::gather(&tools, "ci", TASK, false).await.unwrap();
    let head = gh
        .state
        .with_repo("acme/shop", |r| r.resolve("main").unwrap())
        .unwrap();
    assert_eq!(e.repo.as_deref(), Some("acme/shop"));
    assert_eq!(
        e.revision.as_deref(),
        Some(head.as_str()),
        "the PipelineRun builds the repository's head"
    );
    assert_eq!(
        e.pull.as_ref().unwrap()["number"],
        42,
        "the dependabot PR introduced the commit: {:?}",
        e.notes
    );
    assert!(e.texts.iter().all(|(_, t)| !t.is_empty()));

    let view = facts::task_view(&e.context, e2e::approval::AI);
    assert_eq!(
        (
            view.own_input.as_deref(),
            view.required,
            view.state.as_str()
        ),
        (Some("pending"), 2, "pending")
    );
    let f = facts::facts(
        &e.context,
        e.commit.as_ref(),
        e.pull.as_ref(),
        e.alerts.as_ref(),
        e.firing.as_ref(),
        0,
    );
    assert_eq!(f.changed_paths, Some(vec!["Cargo.toml".to_string()]));
    assert_eq!(f.authors, Some(vec!["dependabot[bot]".to_string()]));
    assert!(
        f.open_alerts
            .as_ref()
            .unwrap()
            .contains(&"high".to_string())
    );
    let rules: policy::Policy = serde_json::from_value(serde_json::json!({"rules": [
        {"id": "alerts", "description": "No open high alerts", "action": "require-human", "check": "security-alerts", "max_severity": "high"},
        {"id": "green", "description": "Checks green", "action": "reject", "check": "checks-green"},
    ]})).unwrap();
    let policy::Gate::RequireHuman(findings) = rules.gate(&f) else {
        panic!("{:?}", rules.gate(&f))
    };
    assert_eq!(
        findings.iter().map(|x| x.rule.as_str()).collect::<Vec<_>>(),
        vec!["alerts"],
        "the checks of PR #42 are green"
    );
}
