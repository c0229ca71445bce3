//! The host's own Kubernetes access, used only where the architecture allows it: the watch the
//! approval controller needs, leader election, its state records and the one guarded write.
//! Everything the model sees still goes through mcp-kubernetes.

pub mod lease;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::Api;
use kube::api::PostParams;

/// A client from the environment: in-cluster ServiceAccount, else `KUBECONFIG` / `~/.kube/config`.
pub async fn client() -> Result<kube::Client, kube::Error> {
    kube::Client::try_default().await
}

/// The username the API server knows us as (`system:serviceaccount:NS:NAME` in a pod).
pub async fn whoami(client: &kube::Client) -> Result<String, kube::Error> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    Ok(review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .unwrap_or_default())
}
