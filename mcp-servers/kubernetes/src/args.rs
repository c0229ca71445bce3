//! The tools' argument types (their JSON Schemas are what clients see).

use rmcp::schemars;
use serde::Deserialize;

use crate::approval::Decision;

/// Arguments of `resources_list`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListArgs {
    /// Kind or plural[.group], e.g. Pod, pipelineruns.tekton.dev
    pub kind: String,
    #[serde(default)]
    pub api_version: Option<String>,
    /// Empty: all
    #[serde(default)]
    pub namespace: String,
    /// e.g. app=web,tier!=db
    #[serde(default)]
    pub label_selector: String,
    /// e.g. status.phase=Running
    #[serde(default)]
    pub field_selector: String,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub cursor: String,
}

/// Arguments of `resources_get`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetArgs {
    /// Kind, plural or plural.group
    pub kind: String,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    /// Only these dotted paths, e.g. status.conditions
    #[serde(default)]
    pub fields: Vec<String>,
}

/// A namespaced object.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ObjectRef {
    pub namespace: String,
    pub name: String,
}

/// Arguments of `pods_status`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PodsArgs {
    pub namespace: String,
    /// Empty: pods matching label_selector
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub label_selector: String,
}

/// Arguments of `pods_log`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LogArgs {
    pub namespace: String,
    pub name: String,
    /// For multi-container pods
    #[serde(default)]
    pub container: String,
    /// Default 100
    #[serde(default)]
    pub tail_lines: Option<u32>,
    #[serde(default)]
    pub since_seconds: Option<u32>,
    /// The previous (crashed) container
    #[serde(default)]
    pub previous: bool,
}

/// Arguments of `events_list`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EventsArgs {
    pub namespace: String,
    /// Object name
    #[serde(default)]
    pub name: String,
    /// Object kind, e.g. Pod
    #[serde(default)]
    pub kind: String,
}

/// Arguments of `rollout_status`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RolloutArgs {
    pub namespace: String,
    /// Deployment, StatefulSet or DaemonSet
    pub kind: String,
    pub name: String,
}

/// Arguments of `approvaltask_decide`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DecideArgs {
    pub namespace: String,
    pub name: String,
    pub decision: Decision,
    /// One-line reason recorded in the task
    #[schemars(length(max = 500))]
    pub message: String,
}
