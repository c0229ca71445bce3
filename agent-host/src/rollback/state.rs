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
    /// The revert commit the host created: the only head auto-merge will merge.
    #[serde(default)]
    pub revert_sha: Option<String>,
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

    /// Where `--dry-run` keeps its simulated state: `<file>.dry-run` beside the real one, so
    /// dry runs alone can reach an incident without ever writing what the live flow reads.
    pub fn simulation(&self) -> StateFile {
        StateFile {
            path: self.path.as_ref().map(|p| {
                let mut name = p.as_os_str().to_owned();
                name.push(".dry-run");
                PathBuf::from(name)
            }),
        }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The state a dry run continues from: this (simulation) file when it is at least as new
    /// as `real`, else `real`'s state, so a simulation starts from what the live flow knows.
    pub fn load_simulation(&self, real: &StateFile) -> Result<FlowState, StateError> {
        let modified = |f: &StateFile| {
            f.path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .and_then(|m| m.modified().ok())
        };
        match (modified(self), modified(real)) {
            (Some(sim), Some(live)) if sim >= live => self.load(),
            (Some(_), None) => self.load(),
            _ => real.load(),
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
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let text = serde_json::to_string_pretty(state).map_err(|e| self.err(e))?;
        std::fs::write(&tmp, text).map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, path).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_continues_its_simulation_and_never_writes_the_live_state() {
        let dir = tempfile::tempdir().unwrap();
        let live = StateFile::new(Some(dir.path().join("state.json")));
        let sim = live.simulation();
        let mut s = FlowState::default();
        s.planes
            .entry("cp".into())
            .or_default()
            .detector
            .query_errors = 1;
        live.save(&s).unwrap();
        assert_eq!(
            sim.load_simulation(&live).unwrap(),
            s,
            "starts from the live state"
        );
        let mut next = s.clone();
        next.planes
            .entry("cp".into())
            .or_default()
            .detector
            .query_errors = 2;
        sim.save(&next).unwrap();
        assert_eq!(
            sim.load_simulation(&live).unwrap(),
            next,
            "continues itself"
        );
        assert_eq!(live.load().unwrap(), s, "the live state is untouched");
        assert_eq!(
            sim.path().unwrap().file_name().unwrap(),
            "state.json.dry-run"
        );
    }
}
