//! One emulated repository: its git objects and refs plus the GitHub-side records (pull
//! requests, comments, workflow runs, checks, security alerts).

use std::collections::BTreeMap;

use serde_json::Value;

use super::git::{Commit, MODE_FILE, Odb, Oid, Signature};

/// A pull request.
#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub user: String,
    pub head_ref: String,
    /// Head commit when the PR was merged or closed (open PRs follow their branch).
    pub head_sha: Oid,
    pub base_ref: String,
    pub base_sha: Oid,
    pub state: String,
    pub draft: bool,
    pub merged_at: Option<i64>,
    pub merge_commit_sha: Option<Oid>,
    pub labels: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// (reviewer, APPROVED | CHANGES_REQUESTED | COMMENTED)
    pub reviews: Vec<(String, String)>,
    pub comments: Vec<(String, String)>,
}

/// A check run on a commit.
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
}

/// An Actions workflow run.
#[derive(Debug, Clone)]
pub struct WorkflowRun {
    pub id: u64,
    pub name: String,
    pub event: String,
    pub branch: String,
    pub head_sha: Oid,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A file changed between two trees.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub filename: String,
    pub status: &'static str,
    pub previous_filename: Option<String>,
    pub additions: u64,
    pub deletions: u64,
    /// Blob id of the new version (of the old one for deletions).
    pub sha: Oid,
    /// Unified diff hunks; `None` for binary files.
    pub patch: Option<String>,
}

/// One repository.
#[derive(Debug)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub odb: Odb,
    /// Full ref names (`refs/heads/main`) to commit ids.
    pub refs: BTreeMap<String, Oid>,
    pub pulls: Vec<Pull>,
    pub checks: BTreeMap<Oid, Vec<CheckRun>>,
    pub runs: Vec<WorkflowRun>,
    /// `dependabot`, `code-scanning`, `secret-scanning` → alert JSON as GitHub returns it.
    pub alerts: BTreeMap<String, Vec<Value>>,
}

/// Converts a seed or API person to a git signature.
pub fn signature(login: &str, time: i64) -> Signature {
    Signature {
        name: login.to_string(),
        email: format!("{login}@users.noreply.github.com"),
        time,
    }
}

impl Repo {
    /// An empty repository.
    pub fn new(id: u64, owner: &str, name: &str, default_branch: &str) -> Self {
        Self {
            id,
            owner: owner.into(),
            name: name.into(),
            default_branch: default_branch.into(),
            private: true,
            odb: Odb::default(),
            refs: BTreeMap::new(),
            pulls: Vec::new(),
            checks: BTreeMap::new(),
            runs: Vec::new(),
            alerts: BTreeMap::new(),
        }
    }

    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Commits `files` (path → content, `None` deletes) on top of `branch` and moves it.
    pub fn commit_files(
        &mut self,
        branch: &str,
        files: &BTreeMap<String, Option<Vec<u8>>>,
        message: &str,
        author: &str,
        time: i64,
    ) -> Oid {
        let ref_name = format!("refs/heads/{branch}");
        let parent = self.refs.get(&ref_name).cloned();
        let mut tree = parent
            .as_deref()
            .and_then(|p| self.odb.commit(p))
            .map(|c| c.tree.clone())
            .map(|t| self.odb.flatten(&t))
            .unwrap_or_default();
        for (path, content) in files {
            match content {
                Some(data) => {
                    let oid = self.odb.put_blob(data.clone());
                    tree.insert(path.clone(), (MODE_FILE.to_string(), oid));
                }
                None => {
                    tree.remove(path);
                }
            }
        }
        let tree = self.odb.build_tree(&tree);
        let sig = signature(author, time);
        let oid = self.odb.put_commit(Commit {
            tree,
            parents: parent.into_iter().collect(),
            author: sig.clone(),
            committer: sig,
            message: message.to_string(),
        });
        self.refs.insert(ref_name, oid.clone());
        oid
    }

    /// Resolves a branch, tag, full ref or (possibly abbreviated) commit id to a commit id.
    pub fn resolve(&self, rev: &str) -> Option<Oid> {
        for candidate in [
            rev.to_string(),
            format!("refs/heads/{rev}"),
            format!("refs/tags/{rev}"),
        ] {
            if let Some(oid) = self.refs.get(&candidate) {
                return Some(oid.clone());
            }
        }
        if rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
            let lower = rev.to_ascii_lowercase();
            if self.odb.commit(&lower).is_some() {
                return Some(lower);
            }
            // Abbreviated ids: search reachable commits of every ref.
            for head in self.refs.values() {
                if let Some(found) = self
                    .odb
                    .first_parent_log(head)
                    .into_iter()
                    .find(|o| o.starts_with(&lower))
                {
                    return Some(found);
                }
            }
        }
        None
    }

    /// The tree of a commit, flattened.
    pub fn files_at(&self, commit: &str) -> BTreeMap<String, (String, Oid)> {
        self.odb
            .commit(commit)
            .map(|c| self.odb.flatten(&c.tree))
            .unwrap_or_default()
    }

    /// Files changed from commit `old` (or the empty tree) to commit `new`.
    pub fn diff(&self, old: Option<&str>, new: &str) -> Vec<FileChange> {
        let before = old.map(|o| self.files_at(o)).unwrap_or_default();
        let after = self.files_at(new);
        let mut out = Vec::new();
        let paths: std::collections::BTreeSet<&String> =
            before.keys().chain(after.keys()).collect();
        for path in paths {
            let (a, b) = (before.get(path), after.get(path));
            let status = match (a, b) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(x), Some(y)) if x.1 != y.1 => "modified",
                _ => continue,
            };
            let old_text = a.and_then(|(_, o)| self.odb.blob(o)).unwrap_or_default();
            let new_text = b.and_then(|(_, o)| self.odb.blob(o)).unwrap_or_default();
            let (additions, deletions, patch) = unified(old_text, new_text);
            out.push(FileChange {
                filename: path.clone(),
                status,
                previous_filename: None,
                additions,
                deletions,
                sha: b.or(a).map(|(_, o)| o.clone()).unwrap_or_default(),
                patch,
            });
        }
        out
    }

    /// The PR with this number.
    pub fn pull(&self, number: u64) -> Option<&Pull> {
        self.pulls.iter().find(|p| p.number == number)
    }

    /// The current head of an open PR's branch, or its recorded head.
    pub fn pull_head(&self, pull: &Pull) -> Oid {
        if pull.state == "open" {
            self.refs
                .get(&format!("refs/heads/{}", pull.head_ref))
                .cloned()
                .unwrap_or_else(|| pull.head_sha.clone())
        } else {
            pull.head_sha.clone()
        }
    }

    /// Commits of a PR: reachable from its head but not from its base, oldest first.
    pub fn pull_commits(&self, pull: &Pull) -> Vec<Oid> {
        let head = self.pull_head(pull);
        let mut commits: Vec<Oid> = self
            .odb
            .first_parent_log(&head)
            .into_iter()
            .take_while(|c| *c != pull.base_sha)
            .collect();
        commits.reverse();
        commits
    }

    /// The next free issue/PR number.
    pub fn next_number(&self) -> u64 {
        self.pulls.iter().map(|p| p.number).max().unwrap_or(0) + 1
    }
}

fn is_binary(data: &[u8]) -> bool {
    data.contains(&0) || std::str::from_utf8(data).is_err()
}

/// (additions, deletions, patch) of a text change, as GitHub renders `patch`.
fn unified(old: &[u8], new: &[u8]) -> (u64, u64, Option<String>) {
    if is_binary(old) || is_binary(new) {
        return (0, 0, None);
    }
    let (old, new) = (
        String::from_utf8_lossy(old).into_owned(),
        String::from_utf8_lossy(new).into_owned(),
    );
    let diff = similar::TextDiff::from_lines(&old, &new);
    let (mut add, mut del) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => add += 1,
            similar::ChangeTag::Delete => del += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let mut patch = String::new();
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        patch.push_str(&hunk.to_string());
    }
    (add, del, Some(patch.trim_end_matches('\n').to_string()))
}
