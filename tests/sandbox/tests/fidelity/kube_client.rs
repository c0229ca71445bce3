//! Fidelity: kube-rs `Api` and `watcher` against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher;
use sandbox::kube::{self as emu, Cluster};

async fn client(context: &str) -> (emu::KubeServer, kube::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cluster = Arc::new(Cluster::new());
    emu::load_dir(&cluster, &emu::default_seeds_dir()).unwrap();
    let server = emu::spawn(cluster, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let kubeconfig: kube::config::Kubeconfig =
        serde_json::from_str(&server.kubeconfig(context)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    (server, kube::Client::try_from(config).unwrap())
}

#[tokio::test]
async fn typed_and_dynamic_api() {
    let (_server, client) = client("admin").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let list = pods
        .list(&ListParams::default().labels("app=api"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    let err = pods.get("nope").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    let bad = pods
        .list(&ListParams::default().labels("app in api"))
        .await
        .unwrap_err();
    assert!(
        matches!(bad, kube::Error::Api(ref s) if s.code == 400),
        "{bad:?}"
    );

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let mut cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "c"}, "data": {"a": "1"}}))
    .unwrap();
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    cm.metadata.resource_version = Some("1".into());
    let stale = cms
        .replace("c", &PostParams::default(), &cm)
        .await
        .unwrap_err();
    assert!(
        matches!(stale, kube::Error::Api(ref s) if s.code == 409),
        "{stale:?}"
    );
    let patched = cms
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"b": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap().len(), 2);
    assert_ne!(
        patched.metadata.resource_version,
        created.metadata.resource_version
    );

    let gvk = GroupVersionKind::gvk("openshift-pipelines.org", "v1alpha1", "ApprovalTask");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "approvaltasks");
    let tasks: Api<DynamicObject> = Api::namespaced_with(client, "ci", &ar);
    let all = tasks.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
}

#[tokio::test]
async fn watcher_lists_then_follows_changes_and_recovers_from_410() {
    let (server, client) = client("admin").await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "shop");
    let stream = watcher(cms.clone(), watcher::Config::default().page_size(1)).boxed();
    let cms2 = cms.clone();
    let cluster = server.cluster.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cm: ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "w1"}})).unwrap();
        cms2.create(&PostParams::default(), &cm).await.unwrap();
        cluster.compact();
        let cm: ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "w2"}})).unwrap();
        cms2.create(&PostParams::default(), &cm).await.unwrap();
    });
    let mut seen = Vec::new();
    let mut stream = stream;
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => panic!("watcher did not see both objects: {seen:?}"),
            ev = stream.try_next() => {
                if let Some(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) = ev.unwrap() {
                    seen.push(cm.metadata.name.unwrap_or_default());
                }
                if seen.contains(&"w1".to_string()) && seen.contains(&"w2".to_string()) {
                    break;
                }
            }
        }
    }
}
