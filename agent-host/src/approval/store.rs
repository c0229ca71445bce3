//! What the approver decided, kept outside the ApprovalTask (its webhook refuses any update
//! that is not a vote): one ConfigMap per task in the approver's own namespace, named after the
//! task's uid. Creating it is the commit point of a decision: a second instance, or this one
//! after a restart, finds it and never decides again; a decision whose write did not happen yet
//! is applied from it, so none is lost. Once the task is final and its feedback recorded, the
//! record is deleted: a final task is never decided on, so nothing needs it any more.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use serde::{Deserialize, Serialize};

/// The label every record carries.
pub const LABEL: &str = "app.kubernetes.io/managed-by";
const LABEL_VALUE: &str = "agent-host-approval";
const KEY: &str = "record.json";

/// One task's decision and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub audit_id: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub pipeline: String,
    pub model: String,
    /// approve, reject, abstain, recommend-approve, recommend-reject, skip
    pub action: String,
    pub reason: String,
    /// Index of our approver entry when the decision was made.
    pub entry: Option<usize>,
    /// Whether an approve may be the vote that completes the task (full approver inside its
    /// autonomy scope). When false (the default, also for records written before this field
    /// existed) the vote is checked against the task as it is when the vote is sent.
    #[serde(default)]
    pub may_complete: bool,
    /// What the write did (`patched`, `noted`, `refused: ...`); `None`: not done yet.
    #[serde(default)]
    pub applied: Option<String>,
    /// Set once the task is final: +1 agree, -1 disagree, 0 unlabelled.
    #[serde(default)]
    pub reward: Option<i8>,
    pub decided_at: String,
}

impl Record {
    /// `Some(true)` for an approve stance, `Some(false)` for reject, else `None`.
    pub fn stance(&self) -> Option<bool> {
        match self.action.as_str() {
            "approve" | "recommend-approve" => Some(true),
            "reject" | "recommend-reject" => Some(false),
            _ => None,
        }
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state ConfigMap {name}: {source}")]
    Api { name: String, source: kube::Error },
    #[error("state ConfigMap {name} holds an unreadable record: {message}")]
    Corrupt { name: String, message: String },
}

/// The records of one approver.
#[derive(Clone)]
pub struct Store {
    api: Api<ConfigMap>,
}

fn name_of(uid: &str) -> String {
    format!("ai-approval-{uid}")
}

impl Store {
    /// Records in `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
        }
    }

    /// The record of the task with `uid`.
    pub async fn get(&self, uid: &str) -> Result<Option<Record>, StoreError> {
        let name = name_of(uid);
        let cm = self
            .api
            .get_opt(&name)
            .await
            .map_err(|source| StoreError::Api {
                name: name.clone(),
                source,
            })?;
        let Some(cm) = cm else { return Ok(None) };
        let text = cm
            .data
            .as_ref()
            .and_then(|d| d.get(KEY))
            .cloned()
            .unwrap_or_default();
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                name,
                message: e.to_string(),
            })
    }

    fn object(rec: &Record) -> ConfigMap {
        let text =
            mcp_runtime::redact::redact(&serde_json::to_string_pretty(rec).unwrap_or_default());
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name_of(&rec.uid)),
                labels: Some(BTreeMap::from([(
                    LABEL.to_string(),
                    LABEL_VALUE.to_string(),
                )])),
                annotations: Some(BTreeMap::from([(
                    "agent-host/task".to_string(),
                    format!("{}/{}", rec.namespace, rec.name),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(KEY.to_string(), text)])),
            ..ConfigMap::default()
        }
    }

    /// Commits a decision: `Ok(false)` when a record already exists (someone decided first).
    pub async fn create(&self, rec: &Record) -> Result<bool, StoreError> {
        match self
            .api
            .create(&PostParams::default(), &Self::object(rec))
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(source) => Err(StoreError::Api {
                name: name_of(&rec.uid),
                source,
            }),
        }
    }

    /// Replaces the record (after applying it, or when the reward is known).
    pub async fn update(&self, rec: &Record) -> Result<(), StoreError> {
        let name = name_of(&rec.uid);
        self.api
            .replace(&name, &PostParams::default(), &Self::object(rec))
            .await
            .map(|_| ())
            .map_err(|source| StoreError::Api { name, source })
    }

    /// Deletes the record of `uid` (once the task is final and its feedback is in the audit log,
    /// so records do not pile up). A record already gone is fine.
    pub async fn delete(&self, uid: &str) -> Result<(), StoreError> {
        let name = name_of(uid);
        match self.api.delete(&name, &Default::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(source) => Err(StoreError::Api { name, source }),
        }
    }
}
