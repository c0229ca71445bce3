//! The Helm chart, rendered by real Helm for several value sets: every object deserializes
//! strictly into its Kubernetes type (a round trip through k8s-openapi loses nothing), pods run
//! restricted, the rendered host configuration and policy load, and the RBAC rules cover every
//! API call the approval flow makes against the Kubernetes emulator, and no more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use agent_host::approval::review::{ModeSetting, Review};
use e2e::approval::{AI, World, client_for, root};
use e2e::chart::{grants, helm, render};
use k8s_openapi::api::{apps, core, rbac};
use serde_json::Value;

/// Round-trips `doc` through `T`; any field the type does not know is lost, and shows.
fn strict<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, doc,
        "fields lost in a round trip through the Kubernetes type"
    );
}

fn check(doc: &Value) {
    match (
        doc["apiVersion"].as_str().unwrap(),
        doc["kind"].as_str().unwrap(),
    ) {
        ("v1", "ServiceAccount") => strict::<core::v1::ServiceAccount>(doc),
        ("v1", "ConfigMap") => strict::<core::v1::ConfigMap>(doc),
        ("v1", "Secret") => strict::<core::v1::Secret>(doc),
        ("v1", "Service") => strict::<core::v1::Service>(doc),
        ("v1", "PersistentVolumeClaim") => strict::<core::v1::PersistentVolumeClaim>(doc),
        ("apps/v1", "Deployment") => {
            strict::<apps::v1::Deployment>(doc);
            let pod = &doc["spec"]["template"]["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
            for c in pod["containers"].as_array().unwrap() {
                let sc = &c["securityContext"];
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{c}");
                assert_eq!(sc["allowPrivilegeEscalation"], false);
                assert_eq!(sc["capabilities"]["drop"][0], "ALL");
            }
        }
        ("rbac.authorization.k8s.io/v1", "Role") => strict::<rbac::v1::Role>(doc),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => strict::<rbac::v1::RoleBinding>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => strict::<rbac::v1::ClusterRole>(doc),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            strict::<rbac::v1::ClusterRoleBinding>(doc)
        }
        ("monitoring.coreos.com/v1", "ServiceMonitor") => {
            assert!(doc["spec"]["endpoints"][0]["port"] == "metrics");
        }
        other => panic!("unexpected object {other:?}"),
    }
}

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_value_set_renders_valid_restricted_objects_and_a_loadable_config() {
    let Some(helm) = helm().unwrap() else {
        eprintln!("skipped: no helm binary (CI sets REQUIRE_HELM and installs it)");
        return;
    };
    let sets: [&[&str]; 6] = [
        &[],
        &["json:approval.namespaces=[]"],
        &["approval.namespaces={team-a,team-b}", "replicaCount=3"],
        &[
            "servers.mode=http",
            "servers.konnect.enabled=true",
            "servers.slack.enabled=true",
            "servers.slack.postTo=C0ALERTS",
            "rollback.enabled=true",
            "rollback.targets[0].control_plane=shop-prod",
            "rollback.targets[0].repo=acme/kong-config",
            "persistence.enabled=true",
            "metrics.serviceMonitor.enabled=true",
        ],
        &[
            "secrets.github.token=ghp_x",
            "secrets.konnect.token=kpat_x",
            "secrets.slack.botToken=xoxb-x",
            "model.apiKey=sk-x",
            "servers.konnect.enabled=true",
            "servers.slack.enabled=true",
            "approval.enabled=false",
            "rollback.enabled=true",
        ],
        &[
            "prompts.existingConfigMap=team-prompts",
            r#"json:prompts.items=[{"key":"rules","path":"approval/rules.j2"}]"#,
        ],
    ];
    for set in sets {
        let docs = render(&helm, "ai", set).unwrap();
        for d in &docs {
            check(d);
        }
        let k = kinds(&docs);
        assert!(
            k.contains("Deployment") && k.contains("ServiceAccount"),
            "{set:?}: {k:?}"
        );
        // The host's configuration and policy load as the binary loads them.
        let cm = docs
            .iter()
            .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "rel-agent-host")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // The image's prompts are this repository's; the ConfigMap mount holds one changed file.
        let mount = dir.path().join("prompts-mount");
        std::fs::create_dir_all(mount.join("approval")).unwrap();
        std::fs::write(
            mount.join("approval/rules.j2"),
            "Team rule: no Friday deploys.",
        )
        .unwrap();
        let text = cm["data"]["agent-host.yaml"]
            .as_str()
            .unwrap()
            .replace(
                "prompts_dir: /usr/share/agent-host/prompts",
                &format!("prompts_dir: {}", root().join("prompts").display()),
            )
            .replace(
                "prompts_override: /etc/agent-host/prompts",
                &format!("prompts_override: {}", mount.display()),
            );
        std::fs::write(dir.path().join("agent-host.yaml"), text).unwrap();
        let cfg = agent_host::config::Config::load(&dir.path().join("agent-host.yaml"))
            .unwrap_or_else(|e| panic!("{set:?}: {e}"));
        let system = cfg
            .prompts()
            .render(
                "approval/system.j2",
                minijinja::context! { policy_summary => "all rules passed" },
            )
            .unwrap();
        let overridden = set.contains(&"prompts.existingConfigMap=team-prompts");
        assert_eq!(system.contains("no Friday deploys"), overridden, "{set:?}");
        assert!(
            system.contains("submit_answer"),
            "the other templates stay the image's"
        );
        if overridden {
            let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
            let pod = &deployment["spec"]["template"]["spec"];
            let volume = pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "prompts")
                .unwrap();
            assert_eq!(volume["configMap"]["name"], "team-prompts");
            assert_eq!(volume["configMap"]["items"][0]["path"], "approval/rules.j2");
            assert!(
                pod["containers"][0]["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["name"] == "prompts" && m["mountPath"] == "/etc/agent-host/prompts")
            );
        }
        let policy: agent_host::approval::policy::Policy =
            serde_saphyr::from_str(cm["data"]["policy.yaml"].as_str().unwrap()).unwrap();
        assert!(!policy.rules.is_empty());
        if set.contains(&"servers.mode=http") {
            assert!(cfg.servers.values().all(|s| s.url.is_some()));
            assert_eq!(docs.iter().filter(|d| d["kind"] == "Deployment").count(), 5);
        } else {
            assert!(cfg.servers.values().all(|s| s.command.is_some()));
        }
        let cluster_wide = docs.iter().any(|d| d["kind"] == "ClusterRole");
        assert_eq!(
            cluster_wide,
            set.contains(&"json:approval.namespaces=[]"),
            "{set:?}"
        );
    }
}

/// Reads only the model's tools make (pods_log, events_list, resources_get, taskrun_summary):
/// granted so the model can look, though a routine approval need not.
const MODEL_READS: &[(&str, &str, &str)] = &[
    ("", "pods", "get"),
    ("", "pods", "list"),
    ("", "pods/log", "get"),
    ("", "pods/log", "list"),
    ("", "events", "get"),
    ("", "events", "list"),
    ("tekton.dev", "taskruns", "get"),
    ("tekton.dev", "pipelines", "list"),
    ("tekton.dev", "tasks", "get"),
    ("tekton.dev", "tasks", "list"),
    ("tekton.dev", "customruns", "list"),
    ("tekton.dev", "pipelineruns", "list"),
    ("openshift-pipelines.org", "approvaltasks", "get"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_rbac_rules_cover_every_call_the_approval_flow_makes_and_no_more() {
    let Some(helm) = helm().unwrap() else {
        eprintln!("skipped: no helm binary (CI sets REQUIRE_HELM and installs it)");
        return;
    };
    // The flow as deployed: controller under a lease, a decision, a human vote, the follow-up.
    let script = serde_json::from_value(serde_json::json!({"rules": [{"reply": {"tool_calls": [{"name": "submit_answer",
        "arguments": {"decision": "approve", "confidence": 0.9, "reasons": ["routine"], "evidence": []}}]}}]})).unwrap();
    let w = World::start(script, "rules: []\n").await.unwrap();
    let approver = std::sync::Arc::new(w.approver(ModeSetting::CoApprover, false).await.unwrap());
    let client = client_for(&w.kube, "ai-approver").await.unwrap();
    let head = w.shop_head().unwrap();
    let digest = "registry.example.com/acme/shop@sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
    w.create_task("rbac", &head, digest, &["alice", AI], 2)
        .unwrap();
    let a = approver.clone();
    let run = tokio::spawn(async move {
        let namespaces = vec!["ci".to_string()];
        let elector = agent_host::cluster::lease::Elector::new(
            client,
            "ai",
            "rel-agent-host",
            "pod-a",
            Duration::from_secs(3),
        );
        elector
            .lead(agent_host::approval::controller::run(
                a,
                &namespaces,
                2,
                std::future::pending(),
            ))
            .await
    });
    for _ in 0..100 {
        if w.task("rbac").unwrap()["spec"]["approvers"][1]["input"] == "approve" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.human_vote("alice", "rbac", "approve", "ok")
        .await
        .unwrap();
    // Final and followed up (by the controller or by us): a review finds no record and ignores it.
    let mut followed = false;
    for _ in 0..100 {
        let task = w.task("rbac").unwrap();
        if task["status"]["state"] == "approved"
            && matches!(approver.review(&task).await.unwrap(), Review::Ignored(_))
        {
            followed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(followed, "{:?}", w.task("rbac").unwrap()["status"]);
    // Long enough for a lease renewal (every third of the 3 s lease).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    run.abort();

    let docs = render(&helm, "ai", &[]).unwrap();
    let rules_in = |ns: &str| -> BTreeSet<(String, String, String)> {
        docs.iter()
            .filter(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == ns)
            .flat_map(|d| grants(&d["rules"]))
            .collect()
    };
    let (watched, own) = (rules_in("ci"), rules_in("ai"));
    let used: BTreeSet<(String, String, String, String)> = w
        .kube
        .cluster
        .accesses()
        .into_iter()
        .filter(|a| a.user == AI)
        .map(|a| (a.namespace, a.group, a.resource, a.verb))
        .collect();
    let mut observed = BTreeSet::new();
    for (ns, group, resource, verb) in &used {
        let triple = (group.clone(), resource.clone(), verb.clone());
        let allowed = match ns.as_str() {
            "ci" => watched.contains(&triple),
            "ai" => own.contains(&triple),
            _ => false,
        };
        assert!(
            allowed,
            "the chart does not allow {verb} {group}/{resource} in {ns:?}"
        );
        observed.insert((ns.clone(), triple));
    }
    let model: BTreeSet<(String, String, String)> = MODEL_READS
        .iter()
        .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
        .collect();
    for t in &watched {
        assert!(
            observed.contains(&("ci".to_string(), t.clone())) || model.contains(t),
            "the chart grants {t:?} in the watched namespace, but nothing uses it"
        );
    }
    for t in &own {
        assert!(
            observed.contains(&("ai".to_string(), t.clone())),
            "the chart grants {t:?} in its own namespace, but nothing uses it"
        );
    }
}
