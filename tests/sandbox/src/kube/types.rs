//! The resource types the emulator serves: built-in kinds plus CRDs loaded at run time.

use serde_json::{Value, json};

/// One served resource type, as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `status` subresource: the main endpoint ignores status changes.
    pub status_subresource: bool,
}

impl ResourceType {
    /// `v1` for the core group, else `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The discovery entries for this type and its subresources.
    pub fn discovery(&self) -> Vec<Value> {
        let verbs = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
            "shortNames": self.short_names,
            "categories": self.categories,
        })];
        if self.status_subresource {
            out.push(json!({"name": format!("{}/status", self.plural), "singularName": "",
                "namespaced": self.namespaced, "kind": self.kind, "verbs": ["get", "patch", "update"]}));
        }
        if self.group.is_empty() && self.plural == "pods" {
            out.push(
                json!({"name": "pods/log", "singularName": "", "namespaced": true,
                "kind": "Pod", "verbs": ["get"]}),
            );
        }
        out
    }

    /// Builds a type from a `CustomResourceDefinition` object (every served version).
    pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
        let spec = &crd["spec"];
        let names = &spec["names"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let list = |v: &Value| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let kind = s(&names["kind"]);
        let plural = s(&names["plural"]);
        let singular = names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_lowercase());
        spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["served"].as_bool().unwrap_or(true))
            .map(|v| ResourceType {
                group: s(&spec["group"]),
                version: s(&v["name"]),
                kind: kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                short_names: list(&names["shortNames"]),
                categories: list(&names["categories"]),
                status_subresource: v["subresources"]["status"].is_object(),
            })
            .collect()
    }
}

/// `(group, version, kind, plural, namespaced, short names, status subresource)`.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
);

const BUILTINS: &[Builtin] = &[
    ("", "v1", "Namespace", "namespaces", false, &["ns"], true),
    ("", "v1", "Pod", "pods", true, &["po"], true),
    ("", "v1", "Service", "services", true, &["svc"], true),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], false),
    ("", "v1", "Secret", "secrets", true, &[], false),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        false,
    ),
    ("", "v1", "Event", "events", true, &["ev"], false),
    ("", "v1", "Node", "nodes", false, &["no"], true),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        true,
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        true,
    ),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], true),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        true,
    ),
    ("batch", "v1", "Job", "jobs", true, &[], true),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        &[],
        false,
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        &["ev"],
        false,
    ),
    (
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        false,
        &[],
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        true,
    ),
    (
        "tekton.dev",
        "v1",
        "Pipeline",
        "pipelines",
        true,
        &[],
        false,
    ),
    ("tekton.dev", "v1", "Task", "tasks", true, &[], false),
    (
        "tekton.dev",
        "v1",
        "PipelineRun",
        "pipelineruns",
        true,
        &["pr", "prs"],
        true,
    ),
    (
        "tekton.dev",
        "v1",
        "TaskRun",
        "taskruns",
        true,
        &["tr", "trs"],
        true,
    ),
    (
        "tekton.dev",
        "v1beta1",
        "CustomRun",
        "customruns",
        true,
        &[],
        true,
    ),
];

/// The built-in resource types (core, apps, batch, coordination, Tekton).
pub fn builtins() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(
            |(group, version, kind, plural, namespaced, short, status)| ResourceType {
                group: group.to_string(),
                version: version.to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                singular: kind.to_lowercase(),
                namespaced: *namespaced,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                categories: if group.starts_with("tekton") {
                    vec!["tekton".into(), "tekton-pipelines".into()]
                } else if group.is_empty() || *group == "apps" {
                    vec!["all".into()]
                } else {
                    vec![]
                },
                status_subresource: *status,
            },
        )
        .collect()
}
