//! A Kubernetes API server emulator: enough of the real semantics for kubectl, kube-rs and our
//! servers (discovery, CRUD, CRDs, selectors, watch, patches, status, logs, identities, and the
//! ApprovalTask admission webhook).
//!
//! Not emulated: RBAC (every known token may do everything the admission rules allow),
//! server-side apply, protobuf, finalizers and garbage collection, aggregated discovery.
//! Strategic merge patches are applied as JSON merge patches.

pub mod api;
pub mod approval;
pub mod selector;
pub mod status;
pub mod store;
pub mod types;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

pub use approval::Identity;
pub use store::Cluster;

/// The `apiVersion` of the emulator-only seed documents that carry pod logs.
pub const LOGS_API_VERSION: &str = "sandbox.local/v1";

/// The identities the emulator knows: `(kubeconfig context, token, username, groups)`.
pub const IDENTITIES: &[(&str, &str, &str, &[&str])] = &[
    (
        "admin",
        "sandbox-admin-token",
        "kubernetes-admin",
        &["system:masters", "system:authenticated"],
    ),
    (
        "ai-approver",
        "sandbox-ai-approver-token",
        "system:serviceaccount:ai:ai-approver",
        &["system:serviceaccounts", "system:authenticated"],
    ),
    (
        "alice",
        "sandbox-alice-token",
        "alice",
        &["system:authenticated"],
    ),
    (
        "bob",
        "sandbox-bob-token",
        "bob",
        &["release-managers", "system:authenticated"],
    ),
];

/// Errors loading seeds.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {message}")]
    Parse { path: String, message: String },
    #[error("seeding {what}: {message}")]
    Create { what: String, message: String },
}

/// Loads every object in a multi-document YAML text. CRDs are applied first, so custom
/// resources in the same text find their type; `sandbox.local/v1` `PodLogs` documents set logs.
pub fn load_yaml(cluster: &Cluster, text: &str, origin: &str) -> Result<usize, SeedError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| SeedError::Parse {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    let mut docs: Vec<Value> = docs.into_iter().filter(|d| d.is_object()).collect();
    docs.sort_by_key(|d| match d["kind"].as_str() {
        Some("CustomResourceDefinition") => 0,
        Some("Namespace") => 1,
        _ => 2,
    });
    let mut count = 0;
    for doc in docs {
        let what = format!("{} {}", doc["kind"], doc["metadata"]["name"]);
        if doc["apiVersion"] == LOGS_API_VERSION {
            let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
            let pod = doc["metadata"]["name"].as_str().unwrap_or_default();
            let container = doc["container"].as_str().unwrap_or_default();
            let previous = doc["previous"].as_bool().unwrap_or(false);
            cluster.set_log(
                ns,
                pod,
                container,
                previous,
                doc["text"].as_str().unwrap_or_default(),
            );
        } else {
            cluster.create_raw(doc).map_err(|e| SeedError::Create {
                what,
                message: e.message,
            })?;
        }
        count += 1;
    }
    Ok(count)
}

/// Loads every `*.yaml` file of a directory, in name order.
pub fn load_dir(cluster: &Cluster, dir: &Path) -> Result<usize, SeedError> {
    let read_err = |source| SeedError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut count = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| SeedError::Read {
            path: file.display().to_string(),
            source,
        })?;
        count += load_yaml(cluster, &text, &file.display().to_string())?;
    }
    Ok(count)
}

/// The seed objects shipped with the sandbox (CRDs, a Tekton pipeline waiting on an
/// ApprovalTask, workloads, pods with logs).
pub fn default_seeds_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/kubernetes")
}

/// A running emulator.
pub struct KubeServer {
    pub addr: SocketAddr,
    pub cluster: Arc<Cluster>,
    /// Fault switches in front of the emulator (see [`crate::faults`]).
    pub faults: Arc<crate::faults::Faults>,
    /// PEM of the server's self-signed certificate (the kubeconfig trusts it).
    pub ca_pem: String,
    handle: tokio::task::JoinHandle<()>,
}

impl KubeServer {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A kubeconfig for this server with one context per identity; `current` is selected.
    pub fn kubeconfig(&self, current: &str) -> String {
        kubeconfig(&self.url(), &self.ca_pem, current)
    }
}

impl Drop for KubeServer {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Starts the emulator for `cluster` on `addr` (use port 0 for a free port), over TLS with a
/// fresh self-signed certificate.
pub async fn spawn(cluster: Arc<Cluster>, addr: SocketAddr) -> std::io::Result<KubeServer> {
    let tls = crate::tls::SelfSigned::generate().map_err(std::io::Error::other)?;
    let tokens: HashMap<String, Identity> = IDENTITIES
        .iter()
        .map(|(_, token, user, groups)| {
            (
                token.to_string(),
                Identity {
                    username: user.to_string(),
                    groups: groups.iter().map(|g| g.to_string()).collect(),
                },
            )
        })
        .collect();
    let state = api::KubeState {
        cluster: cluster.clone(),
        tokens: Arc::new(tokens),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let faults = Arc::default();
    let app = crate::faults::layer(api::router(state), &faults);
    let ca_pem = tls.cert_pem.clone();
    let handle = tokio::spawn(async move { crate::tls::serve(listener, app, &tls).await });
    Ok(KubeServer {
        addr,
        cluster,
        faults,
        ca_pem,
        handle,
    })
}

/// Starts an emulator on a free loopback port, seeded with the shipped seeds (tests, bench).
pub async fn spawn_seeded() -> Result<KubeServer, SeedError> {
    let cluster = Arc::new(Cluster::new());
    load_dir(&cluster, &default_seeds_dir())?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    spawn(cluster, loopback)
        .await
        .map_err(|source| SeedError::Read {
            path: "127.0.0.1:0 (bind)".into(),
            source,
        })
}

/// A kubeconfig (JSON is valid YAML) naming every identity as a context.
pub fn kubeconfig(server_url: &str, ca_pem: &str, current: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let contexts: Vec<Value> = IDENTITIES
        .iter()
        .map(|(ctx, _, _, _)| json!({"name": ctx, "context": {"cluster": "sandbox", "user": ctx, "namespace": "default"}}))
        .collect();
    let users: Vec<Value> = IDENTITIES
        .iter()
        .map(|(ctx, token, _, _)| json!({"name": ctx, "user": {"token": token}}))
        .collect();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": server_url, "certificate-authority-data": ca}}],
        "contexts": contexts,
        "users": users,
        "current-context": current,
        "preferences": {},
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
