//! The server's view of the cluster: kube client, cached discovery, scoping rules, error mapping.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use mcp_runtime::ToolError;
use serde_json::Value;
use tokio::sync::{OnceCell, RwLock};

/// Scoping rules from the command line.
#[derive(Debug, Clone, Default)]
pub struct Scoping {
    /// When non-empty, the only namespaces tools may read or write.
    pub namespaces: Vec<String>,
    /// Kinds (lower-case kind or plural) no tool may touch.
    pub denied_kinds: Vec<String>,
    /// The identity used for ApprovalTask votes; discovered with a SelfSubjectReview if unset.
    pub identity: Option<String>,
}

/// A resolved resource type.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub ar: ApiResource,
    pub namespaced: bool,
}

/// The cluster handle shared by all tools.
pub struct Cluster {
    pub client: kube::Client,
    pub scoping: Scoping,
    discovery: RwLock<Option<Vec<(ApiResource, ApiCapabilities)>>>,
    identity: OnceCell<String>,
}

/// Maps a kube error to a tool error naming what failed.
pub fn kube_err(err: kube::Error, what: &str) -> ToolError {
    match err {
        kube::Error::Api(status) if status.code == 404 => {
            ToolError::NotFound(format!("{what}: {}", status.message))
        }
        kube::Error::Api(status) if status.code == 409 || status.code == 422 => {
            ToolError::Conflict(format!("{what}: {}", status.message))
        }
        kube::Error::Api(status) if status.code == 403 => {
            ToolError::Denied(format!("{what}: {}", status.message))
        }
        // No Kubernetes Status in the body (a proxy's error page): unknown, so passing.
        kube::Error::Api(status) if status.code == 0 => ToolError::Garbled {
            service: "kubernetes",
            message: format!("{what}: {}", status.message),
        },
        kube::Error::Api(status) => ToolError::Upstream {
            service: "kubernetes",
            status: status.code,
            message: format!("{what}: {}", status.message),
        },
        other => ToolError::Unreachable {
            service: "kubernetes",
            message: format!("{what}: {other}"),
        },
    }
}

impl Cluster {
    /// Wraps a client; nothing is fetched until a tool needs it.
    pub fn new(client: kube::Client, scoping: Scoping) -> Self {
        Self {
            client,
            scoping,
            discovery: RwLock::new(None),
            identity: OnceCell::new(),
        }
    }

    /// Refuses namespaces outside the allow-list.
    pub fn check_namespace(&self, ns: &str) -> Result<(), ToolError> {
        if self.scoping.namespaces.is_empty() || self.scoping.namespaces.iter().any(|n| n == ns) {
            Ok(())
        } else {
            Err(ToolError::Denied(format!(
                "namespace `{ns}` is outside this server's allow-list ({})",
                self.scoping.namespaces.join(", ")
            )))
        }
    }

    /// The namespaces an all-namespaces list covers (`None`: all of them).
    pub fn allowed_namespaces(&self) -> Option<&[String]> {
        (!self.scoping.namespaces.is_empty()).then_some(self.scoping.namespaces.as_slice())
    }

    async fn resources(
        &self,
        refresh: bool,
    ) -> Result<Vec<(ApiResource, ApiCapabilities)>, ToolError> {
        if !refresh && let Some(cached) = self.discovery.read().await.as_ref() {
            return Ok(cached.clone());
        }
        let discovery = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|e| kube_err(e, "discovery"))?;
        let mut all = Vec::new();
        for group in discovery.groups() {
            for version in group.versions() {
                all.extend(group.versioned_resources(version));
            }
        }
        *self.discovery.write().await = Some(all.clone());
        Ok(all)
    }

    /// Resolves `kind` (Kind, plural, singular, or `plural.group`) and an optional apiVersion.
    pub async fn resolve(
        &self,
        kind: &str,
        api_version: Option<&str>,
    ) -> Result<Resolved, ToolError> {
        let want = kind.trim().to_lowercase();
        if want.is_empty() {
            return Err(ToolError::invalid(
                "kind",
                "must not be empty (e.g. Pod, deployments.apps, ApprovalTask)",
            ));
        }
        let denied = |ar: &ApiResource| {
            self.scoping
                .denied_kinds
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&ar.kind) || d.eq_ignore_ascii_case(&ar.plural))
        };
        for refresh in [false, true] {
            let all = self.resources(refresh).await?;
            let found = all.into_iter().find(|(ar, _)| {
                let names = [
                    ar.kind.to_lowercase(),
                    ar.plural.clone(),
                    ar.kind.to_lowercase() + "s",
                    format!("{}.{}", ar.plural, ar.group),
                    format!("{}.{}", ar.kind.to_lowercase(), ar.group),
                ];
                names.contains(&want) && api_version.is_none_or(|v| v == ar.api_version)
            });
            if let Some((ar, caps)) = found {
                if denied(&ar) {
                    return Err(ToolError::Denied(format!(
                        "kind {} is on this server's deny-list",
                        ar.kind
                    )));
                }
                return Ok(Resolved {
                    namespaced: caps.scope == Scope::Namespaced,
                    ar,
                });
            }
        }
        Err(ToolError::invalid(
            "kind",
            format!(
                "no resource type `{kind}`{} on this cluster; use a Kind (Pod), a plural (pods) or plural.group (pipelineruns.tekton.dev)",
                api_version.map(|v| format!(" in {v}")).unwrap_or_default()
            ),
        ))
    }

    /// A dynamic API for `r` in `ns` (cluster-wide for cluster-scoped types or `None`).
    pub fn api(&self, r: &Resolved, ns: Option<&str>) -> Api<DynamicObject> {
        match (r.namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &r.ar),
            _ => Api::all_with(self.client.clone(), &r.ar),
        }
    }

    /// Reads one object as JSON.
    pub async fn get(
        &self,
        r: &Resolved,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ToolError> {
        let obj = self
            .api(r, ns)
            .get(name)
            .await
            .map_err(|e| kube_err(e, &format!("get {} {name}", r.ar.kind)))?;
        serde_json::to_value(obj).map_err(|e| ToolError::invalid("object", e.to_string()))
    }

    /// Lists objects as JSON, with the continue token.
    pub async fn list(
        &self,
        r: &Resolved,
        ns: Option<&str>,
        lp: &ListParams,
    ) -> Result<(Vec<Value>, Option<String>), ToolError> {
        let list = self
            .api(r, ns)
            .list(lp)
            .await
            .map_err(|e| kube_err(e, &format!("list {}", r.ar.plural)))?;
        let next = list.metadata.continue_.clone().filter(|c| !c.is_empty());
        let items = list
            .items
            .into_iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect();
        Ok((items, next))
    }

    /// The username this server acts as (flag, or the API server's SelfSubjectReview).
    pub async fn identity(&self) -> Result<String, ToolError> {
        if let Some(id) = &self.scoping.identity {
            return Ok(id.clone());
        }
        self.identity
            .get_or_try_init(|| async {
                let api: Api<SelfSubjectReview> = Api::all(self.client.clone());
                let review = api
                    .create(&PostParams::default(), &SelfSubjectReview::default())
                    .await
                    .map_err(|e| kube_err(e, "SelfSubjectReview (who am I)"))?;
                review
                    .status
                    .and_then(|s| s.user_info)
                    .and_then(|u| u.username)
                    .ok_or_else(|| ToolError::Upstream {
                        service: "kubernetes",
                        status: 200,
                        message: "SelfSubjectReview returned no username; set --identity".into(),
                    })
            })
            .await
            .cloned()
    }
}
