//! Planning a real revert: the tree entries that restore the parent's version of exactly the
//! files a commit changed, or the conflict that forbids it. Pure, so the rules are testable
//! without a server; `writes.rs` applies the plan through the git data API.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// A file the reverted commit changed, as the commit API lists it.
#[derive(Debug, Clone)]
pub struct Changed {
    pub filename: String,
    pub status: String,
    pub previous_filename: Option<String>,
}

/// One entry of the new tree: `sha: None` deletes the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub path: String,
    pub mode: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub sha: Option<String>,
}

/// Why a revert cannot be made safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "later commits on the base branch also changed {0:?}; reverting would discard their work. Revert those first or resolve by hand"
    )]
    LaterChanges(Vec<String>),
    #[error("{0} is missing from the parent commit's tree, so it cannot be restored")]
    MissingInParent(String),
    #[error("the commit changed no files")]
    Empty,
}

/// Entries restoring the parent's version of every changed file.
///
/// `parent` maps path → (mode, blob sha) in the reverted commit's parent; `later` holds paths
/// changed on the base branch after the commit.
pub fn plan(
    changed: &[Changed],
    parent: &BTreeMap<String, (String, String)>,
    later: &BTreeSet<String>,
) -> Result<Vec<Entry>, Refusal> {
    if changed.is_empty() {
        return Err(Refusal::Empty);
    }
    let touched: Vec<String> = changed
        .iter()
        .flat_map(|c| std::iter::once(c.filename.clone()).chain(c.previous_filename.clone()))
        .filter(|p| later.contains(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !touched.is_empty() {
        return Err(Refusal::LaterChanges(touched));
    }
    let restore = |path: &str| {
        parent
            .get(path)
            .map(|(mode, sha)| Entry {
                path: path.to_string(),
                mode: mode.clone(),
                kind: "blob",
                sha: Some(sha.clone()),
            })
            .ok_or_else(|| Refusal::MissingInParent(path.to_string()))
    };
    let delete = |path: &str| Entry {
        path: path.to_string(),
        mode: "100644".into(),
        kind: "blob",
        sha: None,
    };
    let mut entries = Vec::new();
    for c in changed {
        match c.status.as_str() {
            "added" => entries.push(delete(&c.filename)),
            "renamed" => {
                entries.push(delete(&c.filename));
                if let Some(old) = &c.previous_filename {
                    entries.push(restore(old)?);
                }
            }
            // modified, removed, changed, copied: the parent's version comes back.
            _ => entries.push(restore(&c.filename)?),
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(f: &str, status: &str) -> Changed {
        Changed {
            filename: f.into(),
            status: status.into(),
            previous_filename: None,
        }
    }

    fn parent() -> BTreeMap<String, (String, String)> {
        [("kong.yaml", "aaa"), ("old.txt", "bbb"), ("run.sh", "ccc")]
            .into_iter()
            .map(|(p, s)| {
                let mode = if p.ends_with(".sh") {
                    "100755"
                } else {
                    "100644"
                };
                (p.to_string(), (mode.to_string(), s.to_string()))
            })
            .collect()
    }

    #[test]
    fn modified_removed_added_and_renamed_files_are_undone() {
        let mut renamed = changed("new.txt", "renamed");
        renamed.previous_filename = Some("old.txt".into());
        let plan = plan(
            &[
                changed("kong.yaml", "modified"),
                changed("run.sh", "removed"),
                changed("x", "added"),
                renamed,
            ],
            &parent(),
            &BTreeSet::new(),
        )
        .unwrap();
        let view: Vec<(String, Option<String>, String)> =
            plan.into_iter().map(|e| (e.path, e.sha, e.mode)).collect();
        assert_eq!(
            view,
            vec![
                ("kong.yaml".into(), Some("aaa".into()), "100644".into()),
                ("run.sh".into(), Some("ccc".into()), "100755".into()),
                ("x".into(), None, "100644".into()),
                ("new.txt".into(), None, "100644".into()),
                ("old.txt".into(), Some("bbb".into()), "100644".into()),
            ]
        );
    }

    #[test]
    fn later_changes_to_the_same_files_are_a_conflict() {
        let later: BTreeSet<String> = ["kong.yaml".to_string()].into();
        assert_eq!(
            plan(&[changed("kong.yaml", "modified")], &parent(), &later),
            Err(Refusal::LaterChanges(vec!["kong.yaml".into()]))
        );
    }
}
