//! The host's own Kubernetes access, used only where the architecture allows it: the watch the
//! approval controller needs, leader election, its state records and the one guarded write.
//! Everything the model sees still goes through mcp-kubernetes.

pub mod lease;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::Api;
use kube::api::PostParams;

/// How long one of the host's own API calls may take (reads, its state records, the vote).
/// A hung API server then costs a review this long and counts as a passing fault.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A client from the environment (in-cluster ServiceAccount, else `KUBECONFIG` /
/// `~/.kube/config`) for watches, which hold a request open for minutes by design.
pub async fn client() -> Result<kube::Client, kube::Error> {
    kube::Client::try_default().await
}

/// The same for single calls: no request may take longer than [`CALL_TIMEOUT`].
pub async fn call_client() -> Result<kube::Client, kube::Error> {
    let mut config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    bounded(&mut config);
    kube::Client::try_from(config)
}

/// Bounds every request of a client built from `config` by [`CALL_TIMEOUT`], with no retries
/// inside the client: kube's server-aware retry waits up to 15 times (minutes on a lasting
/// 503), while a review that meets a fault ends at once and is retried as a whole, after the
/// wait the server named, within the task's deadline.
pub fn bounded(config: &mut kube::Config) {
    config.read_timeout = Some(CALL_TIMEOUT);
    config.write_timeout = Some(CALL_TIMEOUT);
    config.default_retry = false;
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
