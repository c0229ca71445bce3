//! Planning a real revert, as `git revert` does it: the parent's version of every file the
//! commit changed comes back, except where later commits on the base changed the same file;
//! there the revert is the three-way merge of the base's head and the commit's parent with the
//! commit itself as the common ancestor (`merge`), which keeps the later work and conflicts
//! only where it overlaps what the reverted commit changed. Pure, so the rules are testable
//! without a server (and against the `git` binary, `tests/revert_against_git.rs`);
//! `writes.rs` applies the plan through the git data API.

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

/// One step of a revert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A tree entry known from the plan alone.
    Entry(Entry),
    /// A file later commits changed too: its new content is the three-way merge of the
    /// base's head version and the parent's version, with the commit's version as ancestor.
    Merge { path: String, mode: String },
}

/// Why a revert cannot be made safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "later commits on the base branch also added, removed or renamed {0:?}; a revert would conflict with their work (git reports this as a modify/delete or rename conflict). Revert those first or resolve by hand"
    )]
    LaterChanges(Vec<String>),
    #[error("{0} is missing from the parent commit's tree, so it cannot be restored")]
    MissingInParent(String),
    #[error("the commit changed no files")]
    Empty,
}

/// The steps restoring the parent's version of every changed file.
///
/// `parent` maps path → (mode, blob sha) in the reverted commit's parent; `later` holds paths
/// changed on the base branch after the commit. A modified file that later commits changed
/// too is merged ([`Step::Merge`]); an added, removed or renamed one is a conflict, as it is
/// for git.
pub fn plan(
    changed: &[Changed],
    parent: &BTreeMap<String, (String, String)>,
    later: &BTreeSet<String>,
) -> Result<Vec<Step>, Refusal> {
    if changed.is_empty() {
        return Err(Refusal::Empty);
    }
    let is_later = |c: &Changed| {
        std::iter::once(&c.filename)
            .chain(c.previous_filename.as_ref())
            .any(|p| later.contains(p))
    };
    let blocked: Vec<String> = changed
        .iter()
        .filter(|c| is_later(c) && !matches!(c.status.as_str(), "modified" | "changed"))
        .flat_map(|c| std::iter::once(c.filename.clone()).chain(c.previous_filename.clone()))
        .filter(|p| later.contains(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !blocked.is_empty() {
        return Err(Refusal::LaterChanges(blocked));
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
    let mut steps = Vec::new();
    for c in changed {
        match c.status.as_str() {
            "added" => steps.push(Step::Entry(delete(&c.filename))),
            "renamed" => {
                steps.push(Step::Entry(delete(&c.filename)));
                if let Some(old) = &c.previous_filename {
                    steps.push(Step::Entry(restore(old)?));
                }
            }
            _ if is_later(c) => {
                let mode = restore(&c.filename)?.mode;
                steps.push(Step::Merge {
                    path: c.filename.clone(),
                    mode,
                });
            }
            // modified, removed, changed, copied: the parent's version comes back.
            _ => steps.push(Step::Entry(restore(&c.filename)?)),
        }
    }
    Ok(steps)
}

/// Where a three-way merge conflicts: the 1-based line ranges of the base's head version that
/// overlap (or touch) lines the reverted commit changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub ranges: Vec<(usize, usize)>,
    /// Not a conflict git would report, but a file where git's diff falls back to an
    /// algorithm this merge does not reproduce exactly (long runs of identical lines): the
    /// result could differ from `git revert`'s, so it is refused rather than guessed.
    pub unproven: bool,
}

/// The revert of one file: the three-way merge of `head` (ours) and `parent` (theirs) with the
/// reverted commit's version `commit` as their ancestor. Clean when the changes from `commit`
/// to `head` and from `commit` to `parent` touch disjoint, non-adjacent line ranges of
/// `commit` (identical changes on both sides count once), as git's merge decides with its
/// default diff; otherwise the conflicting ranges.
pub fn merge(commit: &str, head: &str, parent: &str) -> Result<String, Conflict> {
    let base = lines(commit);
    let unproven = || Conflict {
        ranges: Vec::new(),
        unproven: true,
    };
    let ours = hunks(&base, &lines(head)).ok_or_else(unproven)?;
    let theirs = hunks(&base, &lines(parent)).ok_or_else(unproven)?;
    let mut all: Vec<(bool, &Hunk)> = ours
        .iter()
        .map(|h| (true, h))
        .chain(theirs.iter().map(|h| (false, h)))
        .collect();
    all.sort_by_key(|(_, h)| (h.start, h.end));
    // Changes that overlap or touch form one region (git's xdl_merge: a change ending where
    // the other begins conflicts too). A region changed by one side takes that side; changed
    // by both, it is clean only when both sides turn it into the same lines (git resolves
    // identical changes, wherever its diff placed them), else it conflicts.
    let mut out = String::new();
    let mut ranges = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while let Some(&(_, first)) = all.get(i) {
        let (start, mut end) = (first.start, first.end);
        let mut j = i + 1;
        while let Some(&(_, h)) = all.get(j) {
            if h.start > end {
                break;
            }
            end = end.max(h.end);
            j += 1;
        }
        let group = all.get(i..j).unwrap_or_default();
        let side = |mine: bool| -> Vec<String> {
            let mut text = Vec::new();
            let mut pos = start;
            for (_, h) in group.iter().filter(|(s, _)| *s == mine) {
                text.extend(
                    base.get(pos..h.start)
                        .unwrap_or_default()
                        .iter()
                        .map(|l| l.to_string()),
                );
                text.extend(h.with.iter().cloned());
                pos = h.end;
            }
            text.extend(
                base.get(pos..end)
                    .unwrap_or_default()
                    .iter()
                    .map(|l| l.to_string()),
            );
            text
        };
        let both = group.iter().any(|(s, _)| *s) && group.iter().any(|(s, _)| !*s);
        let (head_side, parent_side) = (side(true), side(false));
        let taken = if !both {
            if group.iter().any(|(s, _)| *s) {
                head_side
            } else {
                parent_side
            }
        } else if head_side == parent_side {
            head_side
        } else {
            for (mine, h) in group {
                if *mine {
                    ranges.push(h.head_range());
                }
            }
            head_side
        };
        for l in base.get(at..start).unwrap_or_default() {
            out.push_str(l);
        }
        for l in &taken {
            out.push_str(l);
        }
        at = end;
        i = j;
    }
    for l in base.get(at..).unwrap_or_default() {
        out.push_str(l);
    }
    if ranges.is_empty() {
        Ok(out)
    } else {
        ranges.sort_unstable();
        ranges.dedup();
        Err(Conflict {
            ranges,
            unproven: false,
        })
    }
}

/// Lines with their endings (the last may have none).
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// A change of `base[start..end]` into `with`; `head_start` is where it lands on its side.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    start: usize,
    end: usize,
    with: Vec<String>,
    head_start: usize,
}

impl Hunk {
    /// 1-based lines on its side, at least one line wide.
    fn head_range(&self) -> (usize, usize) {
        let first = self.head_start + 1;
        (first, first + self.with.len().max(1) - 1)
    }
}

/// The hunks turning `base` into `side`, as git's merge sees them ([`crate::linediff`]);
/// `None` where that diff is not reproduced exactly.
fn hunks(base: &[&str], side: &[&str]) -> Option<Vec<Hunk>> {
    let (removed, added) = crate::linediff::changed_lines(base, side)?;
    let gone = |i: usize| removed.get(i).copied().unwrap_or(false);
    let new = |j: usize| added.get(j).copied().unwrap_or(false);
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < base.len() || j < side.len() {
        if gone(i) || new(j) {
            let (start, head_start) = (i, j);
            while gone(i) {
                i += 1;
            }
            while new(j) {
                j += 1;
            }
            out.push(Hunk {
                start,
                end: i,
                with: side
                    .get(head_start..j)
                    .unwrap_or_default()
                    .iter()
                    .map(|l| l.to_string())
                    .collect(),
                head_start,
            });
        } else {
            i += 1;
            j += 1;
        }
    }
    Some(out)
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
        let view: Vec<(String, Option<String>, String)> = plan
            .into_iter()
            .filter_map(|s| match s {
                Step::Entry(e) => Some((e.path, e.sha, e.mode)),
                Step::Merge { .. } => None,
            })
            .collect();
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
    fn later_changes_to_the_same_file_are_merged_and_renames_refused() {
        let later: BTreeSet<String> = ["kong.yaml".to_string(), "x".to_string()].into();
        assert_eq!(
            plan(&[changed("kong.yaml", "modified")], &parent(), &later),
            Ok(vec![Step::Merge {
                path: "kong.yaml".into(),
                mode: "100644".into()
            }])
        );
        assert_eq!(
            plan(&[changed("x", "added")], &parent(), &later),
            Err(Refusal::LaterChanges(vec!["x".into()]))
        );
    }

    #[test]
    fn a_three_way_revert_keeps_later_work_and_conflicts_only_where_it_overlaps() {
        let parent = "a\nb\nc\nd\ne\nf\n";
        let commit = "a\nB\nc\nd\ne\nf\n";
        // A later edit far from the reverted line survives; the reverted line comes back.
        let head = "a\nB\nc\nd\ne\nF\n";
        assert_eq!(
            merge(commit, head, parent).as_deref(),
            Ok("a\nb\nc\nd\ne\nF\n")
        );
        // A later edit of the same line conflicts, and so does one on the next line.
        assert_eq!(
            merge(commit, "a\nBB\nc\nd\ne\nf\n", parent),
            Err(Conflict {
                ranges: vec![(2, 2)],
                unproven: false,
            })
        );
        assert!(merge(commit, "a\nB\nC\nd\ne\nf\n", parent).is_err());
        // Nothing changed since: the parent's version.
        assert_eq!(merge(commit, commit, parent).as_deref(), Ok(parent));
        // The same change made again later is one change.
        assert_eq!(merge(commit, parent, parent).as_deref(), Ok(parent));
    }

    #[test]
    fn a_file_git_would_diff_with_its_fallback_is_refused_not_guessed() {
        // An outsider's case: git reverts this with a conflict, a Myers guess merged it.
        let x = "x\n".repeat(70);
        let commit = format!("{x}P1\nP2\nP3\nP4\nP5\nx\nx\nQ1\nQ2\nQ3\nQ4\nQ5\n");
        let head = format!("{x}R\nx\nx\nS\n");
        let parent = format!("{x}P1\nP2\nP3\nP4\nP5\nx\nT\nx\nQ1\nQ2\nQ3\nQ4\nQ5\n");
        assert!(matches!(merge(&commit, &head, &parent), Err(c) if c.unproven));
    }
}
