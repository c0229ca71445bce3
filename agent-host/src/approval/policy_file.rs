//! The policy file, hot-reloaded: each use checks the file's modification time and re-reads it
//! when it changed. A file that no longer parses keeps the last good policy in force and is
//! reported, so a typo never opens the gate; a policy that never loaded fails every decision.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::policy::Policy;

/// A policy that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("policy {path}: {message}")]
pub struct PolicyError {
    pub path: String,
    pub message: String,
}

/// Reads `path` as a policy.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let err = |message: String| PolicyError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))
}

struct Loaded {
    modified: Option<SystemTime>,
    policy: Arc<Policy>,
}

/// A policy file watched by modification time.
pub struct PolicyFile {
    path: PathBuf,
    loaded: Mutex<Option<Loaded>>,
}

impl PolicyFile {
    /// Loads `path` now; fails when it cannot be read the first time.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, PolicyError> {
        let path = path.into();
        let policy = load(&path)?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Ok(Self {
            path,
            loaded: Mutex::new(Some(Loaded {
                modified,
                policy: Arc::new(policy),
            })),
        })
    }

    /// The current policy, re-read if the file changed since the last call.
    pub fn current(&self) -> Result<Arc<Policy>, PolicyError> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut slot = mcp_runtime::sync::lock(&self.loaded);
        if let Some(l) = slot.as_ref()
            && l.modified == modified
        {
            return Ok(l.policy.clone());
        }
        match load(&self.path) {
            Ok(p) => {
                tracing::info!(path = %self.path.display(), rules = p.rules.len(), "policy reloaded");
                let policy = Arc::new(p);
                *slot = Some(Loaded {
                    modified,
                    policy: policy.clone(),
                });
                Ok(policy)
            }
            Err(e) => match slot.as_mut() {
                Some(l) => {
                    tracing::error!(error = %e, "policy file invalid: keeping the previous policy");
                    // Do not re-read (and re-report) until the file changes again.
                    l.modified = modified;
                    Ok(l.policy.clone())
                }
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_and_a_broken_file_keeps_the_last_good_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "rules: []\n").unwrap();
        let file = PolicyFile::open(&path).unwrap();
        assert!(file.current().unwrap().rules.is_empty());
        let rule = "rules:\n  - {id: d, description: pinned, action: reject, check: image-digest}\nautonomy: {namespaces: [ci], pipelines: ['*']}\n";
        std::fs::write(&path, rule).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        let p = file.current().unwrap();
        assert_eq!(p.rules.len(), 1);
        assert!(p.autonomy.covers(&super::super::policy::Facts {
            namespace: "ci".into(),
            pipeline: "any".into(),
            ..Default::default()
        }));
        std::fs::write(&path, "rules: [oops").unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(10))
            .unwrap();
        assert_eq!(file.current().unwrap().rules.len(), 1);
        assert!(PolicyFile::open(dir.path().join("none.yaml")).is_err());
    }
}
