//! The rollback flow's memory, kept in a JSON file so detector state and open incidents survive
//! restarts (written whole to a temporary file, then renamed: never half-written).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::detector;

/// One incident on one route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub opened_at: i64,
    pub onset: Option<i64>,
    pub culprit: Option<String>,
    pub pr_number: Option<u64>,
    pub pr_url: Option<String>,
    /// The Slack message that threads this incident's updates.
    pub slack_ts: Option<String>,
    /// What was done, for the next tick and for people.
    pub outcome: String,
}

/// One control plane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaneState {
    pub detector: detector::State,
    /// Open incidents by route.
    pub incidents: BTreeMap<String, Incident>,
}

/// Everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowState {
    pub planes: BTreeMap<String, PlaneState>,
}

/// The state file (None: memory only).
pub struct StateFile {
    path: Option<PathBuf>,
}

/// Errors reading or writing the state.
#[derive(Debug, thiserror::Error)]
#[error("rollback state {path}: {message}")]
pub struct StateError {
    pub path: String,
    pub message: String,
}

impl StateFile {
    /// State in `path`.
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path }
    }

    fn err(&self, message: impl std::fmt::Display) -> StateError {
        StateError {
            path: self
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            message: message.to_string(),
        }
    }

    /// The saved state (empty when there is none yet).
    pub fn load(&self) -> Result<FlowState, StateError> {
        let Some(path) = &self.path else {
            return Ok(FlowState::default());
        };
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| self.err(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FlowState::default()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Saves `state`.
    pub fn save(&self, state: &FlowState) -> Result<(), StateError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.err(e))?;
        }
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(state).map_err(|e| self.err(e))?;
        std::fs::write(&tmp, text).map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, path).map_err(|e| self.err(e))
    }
}
