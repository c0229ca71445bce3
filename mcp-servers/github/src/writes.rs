//! Bodies of the write tools. Each is exposed only with writes enabled; merging also needs its
//! own switch.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use http::Method;
use mcp_runtime::budget;
use mcp_runtime::{ToolError, ToolResult};
use octocrab::models::pulls::PullRequest;
use octocrab::models::repos::RepoCommit;
use rmcp::model::CallToolResult;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::encode;
use crate::reads::required;
use crate::render::{self, short, subject};
use crate::revert::{self, Changed, Step};
use crate::scope::Repo;
use crate::server::*;

#[derive(Deserialize)]
struct GitRef {
    object: GitObject,
}

#[derive(Deserialize)]
struct GitObject {
    sha: String,
}

#[derive(Deserialize)]
struct GitCommit {
    sha: String,
    tree: GitObject,
}

#[derive(Deserialize)]
struct Tree {
    sha: String,
    tree: Vec<TreeItem>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct TreeItem {
    path: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}

#[derive(Deserialize)]
struct Comparison {
    status: String,
    #[serde(default)]
    files: Vec<ChangedFile>,
}

/// GitHub lists at most 300 files in a comparison (REST docs, "Compare two commits"): a longer
/// list may be incomplete, so it cannot tell which files later commits left alone.
const COMPARE_FILE_CAP: usize = 300;

/// A commit as `GET /repos/{owner}/{repo}/commits` lists it.
#[derive(Deserialize)]
struct ListedCommit {
    sha: String,
    commit: ListedMessage,
}

#[derive(Deserialize)]
struct ListedMessage {
    message: String,
}

#[derive(Deserialize)]
struct Blob {
    sha: String,
}

#[derive(Deserialize)]
struct ChangedFile {
    filename: String,
    #[serde(default)]
    previous_filename: Option<String>,
}

#[derive(Deserialize)]
struct RepoInfo {
    default_branch: String,
}

/// A branch name git accepts (the subset of `git check-ref-format` a model can get wrong).
fn branch_name(field: &str, name: &str) -> ToolResult<String> {
    let n = name.trim().trim_start_matches("refs/heads/");
    let bad = n.is_empty()
        || n.starts_with(['-', '/', '.'])
        || n.ends_with(['/', '.'])
        || n.ends_with(".lock")
        || n.contains("..")
        || n.contains("//")
        || n.contains("@{")
        || n.chars().any(|c| c.is_control() || " ~^:?*[\\".contains(c));
    if bad {
        return Err(ToolError::invalid(
            field,
            format!("`{n}` is not a valid branch name"),
        ));
    }
    Ok(n.to_string())
}

impl GitHubServer {
    async fn default_branch(&self, repo: &Repo) -> ToolResult<String> {
        Ok(self.gh.get::<RepoInfo>(&repo.path()).await?.default_branch)
    }

    async fn branch_or_default(&self, repo: &Repo, field: &str, value: &str) -> ToolResult<String> {
        match value.trim() {
            "" => self.default_branch(repo).await,
            v => branch_name(field, v),
        }
    }

    async fn create_ref(&self, repo: &Repo, branch: &str, sha: &str) -> ToolResult<()> {
        let body = json!({"ref": format!("refs/heads/{branch}"), "sha": sha});
        self.gh
            .write::<Value>(Method::POST, &format!("{}/git/refs", repo.path()), &body)
            .await
            .map_err(|e| match e {
                ToolError::Upstream {
                    status: 422,
                    message,
                    ..
                } if message.contains("already exists") => ToolError::Conflict(format!(
                    "branch {branch} already exists in {repo}; choose another name"
                )),
                other => other,
            })?;
        Ok(())
    }

    pub(crate) async fn create_branch(&self, a: BranchArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let branch = branch_name("branch", &a.branch)?;
        let from = match a.from.trim() {
            "" => self.default_branch(&repo).await?,
            f => f.to_string(),
        };
        let c: RepoCommit = self
            .gh
            .get(&format!("{}/commits/{}", repo.path(), encode(&from)))
            .await?;
        self.create_ref(&repo, &branch, &c.sha).await?;
        Ok(budget::json(
            json!({"repo": repo.to_string(), "branch": branch, "sha": c.sha, "from": from}),
        ))
    }

    pub(crate) async fn revert(&self, a: RevertArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let sha = required("sha", &a.sha)?;
        let commit: RepoCommit = self
            .gh
            .get(&format!("{}/commits/{}", repo.path(), encode(sha)))
            .await?;
        let parent = match commit.parents.as_slice() {
            [p] => p.sha.clone().unwrap_or_default(),
            [] => {
                return Err(ToolError::Conflict(format!(
                    "{} is the first commit; there is nothing to revert to",
                    short(&commit.sha)
                )));
            }
            _ => {
                return Err(ToolError::Conflict(format!(
                    "{} is a merge commit; revert the pull request's own commits instead",
                    short(&commit.sha)
                )));
            }
        };
        let base = self.branch_or_default(&repo, "base", &a.base).await?;
        let branch = match a.branch.trim() {
            "" => format!("revert-{}", short(&commit.sha)),
            b => branch_name("branch", b)?,
        };
        // Pin the base head first, so the conflict check and the new commit see the same base.
        let head: GitRef = self
            .gh
            .get(&format!("{}/git/ref/heads/{}", repo.path(), base))
            .await?;
        let head_sha = head.object.sha;
        let later: Comparison = self
            .gh
            .get(&format!(
                "{}/compare/{}...{}",
                repo.path(),
                commit.sha,
                head_sha
            ))
            .await?;
        if !matches!(later.status.as_str(), "ahead" | "identical") {
            return Err(ToolError::Conflict(format!(
                "{} is not on {base} (compare status {}); give the branch that holds it as `base`",
                short(&commit.sha),
                later.status
            )));
        }
        let later_paths: BTreeSet<String> = later
            .files
            .iter()
            .flat_map(|f| std::iter::once(f.filename.clone()).chain(f.previous_filename.clone()))
            .collect();
        let parent_tree: Tree = self
            .gh
            .get(&format!("{}/git/trees/{parent}?recursive=1", repo.path()))
            .await?;
        if parent_tree.truncated {
            return Err(ToolError::Conflict(
                "the repository tree is too large for the API to list in one response; revert with git locally".into(),
            ));
        }
        let parent_files: BTreeMap<String, (String, String)> = parent_tree
            .tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .map(|e| (e.path, (e.mode, e.sha)))
            .collect();
        let changed: Vec<Changed> = commit
            .files
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|f| Changed {
                status: render::file_status(&f.status).to_string(),
                filename: f.filename,
                previous_filename: f.previous_filename,
            })
            .collect();
        if later.files.len() >= COMPARE_FILE_CAP {
            return Err(ToolError::Conflict(format!(
                "more than {COMPARE_FILE_CAP} files changed on {base} since {}: GitHub's comparison may not list them all, so a revert could discard later work; revert with git locally",
                short(&commit.sha)
            )));
        }
        // GitHub lists at most 300 files of a commit: past that the revert would be partial.
        if changed.len() >= COMPARE_FILE_CAP {
            return Err(ToolError::Conflict(format!(
                "{} changes {} or more files, more than GitHub lists for one commit: a revert could miss some; revert with git locally",
                short(&commit.sha),
                COMPARE_FILE_CAP
            )));
        }
        let steps = revert::plan(&changed, &parent_files, &later_paths)
            .map_err(|r| ToolError::Conflict(r.to_string()))?;
        let head_commit: GitCommit = self
            .gh
            .get(&format!("{}/git/commits/{head_sha}", repo.path()))
            .await?;
        // A merged file keeps the mode it has now (a later `chmod +x` stays), as git's does.
        let head_modes: BTreeMap<String, String> =
            if steps.iter().any(|s| matches!(s, Step::Merge { .. })) {
                let t: Tree = self
                    .gh
                    .get(&format!(
                        "{}/git/trees/{}?recursive=1",
                        repo.path(),
                        head_commit.tree.sha
                    ))
                    .await?;
                t.tree
                    .into_iter()
                    .filter(|e| e.kind == "blob")
                    .map(|e| (e.path, e.mode))
                    .collect()
            } else {
                BTreeMap::new()
            };
        let mut entries = Vec::new();
        let mut merged = Vec::new();
        for step in steps {
            match step {
                Step::Entry(e) => entries.push(e),
                Step::Merge { path, mode } => {
                    let mode = head_modes.get(&path).cloned().unwrap_or(mode);
                    let sha = self
                        .merge_back(&repo, &path, &commit.sha, &head_sha, &parent)
                        .await?;
                    merged.push(path.clone());
                    entries.push(revert::Entry {
                        path,
                        mode,
                        kind: "blob",
                        sha: Some(sha),
                    });
                }
            }
        }
        let tree: Tree = self
            .gh
            .write(
                Method::POST,
                &format!("{}/git/trees", repo.path()),
                &json!({"base_tree": head_commit.tree.sha, "tree": entries}),
            )
            .await?;
        if tree.sha == head_commit.tree.sha {
            // As `git revert` does: a revert that changes nothing is refused, not committed.
            return Err(ToolError::Conflict(format!(
                "reverting {} changes nothing on {base}: later commits already undid it",
                short(&commit.sha)
            )));
        }
        let message = format!(
            "Revert \"{}\"\n\nThis reverts commit {}.",
            subject(&commit.commit.message),
            commit.sha
        );
        let new: GitCommit = self
            .gh
            .write(
                Method::POST,
                &format!("{}/git/commits", repo.path()),
                &json!({"message": message, "tree": tree.sha, "parents": [head_commit.sha]}),
            )
            .await?;
        self.create_ref(&repo, &branch, &new.sha).await?;
        let files: Vec<Value> = entries
            .iter()
            .map(|e| {
                let action = if merged.contains(&e.path) {
                    "merged"
                } else if e.sha.is_some() {
                    "restored"
                } else {
                    "deleted"
                };
                json!({"path": e.path, "action": action})
            })
            .collect();
        let method = if merged.is_empty() {
            "the parent's version of every file the commit changed"
        } else {
            "three-way merge (as git revert): later changes to the same files kept"
        };
        Ok(budget::json(json!({
            "repo": repo.to_string(), "branch": branch, "commit": new.sha, "base": base,
            "baseHead": head_commit.sha, "reverted": commit.sha, "parent": parent, "files": files,
            "method": method,
            "next": format!("open a pull request from {branch} into {base}"),
        })))
    }

    /// The revert of one file later commits changed too: the three-way merge of its version
    /// at `head` and at `parent`, with its version at `reverted` as ancestor, stored as a new
    /// blob. A conflict names the later commits that changed the file and the lines.
    async fn merge_back(
        &self,
        repo: &Repo,
        path: &str,
        reverted: &str,
        head: &str,
        parent: &str,
    ) -> ToolResult<String> {
        let at_commit = self.text_at(repo, path, reverted).await?;
        let at_head = self.text_at(repo, path, head).await?;
        let at_parent = self.text_at(repo, path, parent).await?;
        let (Some(c), Some(h), Some(p)) = (at_commit, at_head, at_parent) else {
            return Err(ToolError::Conflict(format!(
                "{path} is not a text file of at most 1 MB at every side of the revert; revert with git locally"
            )));
        };
        match revert::merge(&c, &h, &p) {
            Ok(text) => {
                let blob: Blob = self
                    .gh
                    .write(
                        Method::POST,
                        &format!("{}/git/blobs", repo.path()),
                        &json!({"content": text, "encoding": "utf-8"}),
                    )
                    .await?;
                Ok(blob.sha)
            }
            Err(conflict) if conflict.unproven => Err(ToolError::Conflict(format!(
                "{path} has long runs of identical lines where git's merge diff falls back to an algorithm this revert does not reproduce exactly; rather than risk a result that differs from `git revert {}`, revert it with git locally",
                short(reverted)
            ))),
            Err(conflict) => {
                let later = self.later_commits(repo, path, reverted, head).await;
                let lines: Vec<String> = conflict
                    .ranges
                    .iter()
                    .map(|(a, b)| {
                        if a == b {
                            format!("{a}")
                        } else {
                            format!("{a}-{b}")
                        }
                    })
                    .collect();
                Err(ToolError::Conflict(format!(
                    "reverting {} conflicts with later changes to {path} (lines {} at the base's head), made by {later}. Revert those first or resolve by hand",
                    short(reverted),
                    lines.join(", ")
                )))
            }
        }
    }

    /// The commits after `reverted` up to `head` that changed `path`, as `sha7 "subject"`.
    async fn later_commits(&self, repo: &Repo, path: &str, reverted: &str, head: &str) -> String {
        let url = format!(
            "{}/commits?sha={}&path={}&per_page=100",
            repo.path(),
            encode(head),
            encode(path)
        );
        let listed: Result<Vec<ListedCommit>, ToolError> = self.gh.get(&url).await;
        match listed {
            Ok(list) => {
                let names: Vec<String> = list
                    .iter()
                    .take_while(|c| c.sha != reverted)
                    .map(|c| format!("{} \"{}\"", short(&c.sha), subject(&c.commit.message)))
                    .collect();
                if names.is_empty() {
                    "later commits".into()
                } else {
                    names.join(", ")
                }
            }
            Err(_) => "later commits (their list could not be read)".into(),
        }
    }

    /// `path` at `rev` as text; `None` when absent, binary, or too large for the contents API.
    async fn text_at(&self, repo: &Repo, path: &str, rev: &str) -> ToolResult<Option<String>> {
        let encoded: Vec<String> = path.split('/').map(encode).collect();
        let url = format!(
            "{}/contents/{}?ref={}",
            repo.path(),
            encoded.join("/"),
            encode(rev)
        );
        let v: Value = match self.gh.get(&url).await {
            Ok(v) => v,
            Err(ToolError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if v["type"] != "file" || v["encoding"] != "base64" {
            return Ok(None);
        }
        let raw = v["content"]
            .as_str()
            .unwrap_or("")
            .replace(['\n', '\r'], "");
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(raw) else {
            return Ok(None);
        };
        Ok(String::from_utf8(bytes).ok().filter(|t| !t.contains('\0')))
    }

    pub(crate) async fn create_pull(&self, a: NewPullArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let head = branch_name("head", &a.head)?;
        let base = self.branch_or_default(&repo, "base", &a.base).await?;
        let title = required("title", &a.title)?;
        if title.chars().count() > 256 {
            return Err(ToolError::invalid("title", "at most 256 characters"));
        }
        let pr: PullRequest = self
            .gh
            .write(
                Method::POST,
                &format!("{}/pulls", repo.path()),
                &json!({"title": title, "head": head, "base": base, "body": a.body, "draft": a.draft}),
            )
            .await?;
        let labels: Vec<String> = a
            .labels
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if !labels.is_empty() {
            self.gh
                .write::<Value>(
                    Method::POST,
                    &format!("{}/issues/{}/labels", repo.path(), pr.number),
                    &json!({"labels": labels}),
                )
                .await?;
        }
        Ok(budget::json(json!({
            "repo": repo.to_string(), "number": pr.number,
            "url": pr.html_url.map(|u| u.to_string()), "head": head, "base": base, "labels": labels,
        })))
    }

    pub(crate) async fn comment(&self, a: CommentArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let body = required("body", &a.body)?;
        if body.len() > 65_536 {
            return Err(ToolError::invalid("body", "at most 65536 characters"));
        }
        let c: Value = self
            .gh
            .write(
                Method::POST,
                &format!("{}/issues/{}/comments", repo.path(), a.number),
                &json!({"body": body}),
            )
            .await?;
        Ok(budget::json(
            json!({"repo": repo.to_string(), "number": a.number, "comment": c["id"], "url": c["html_url"]}),
        ))
    }

    pub(crate) async fn merge(&self, a: MergeArgs) -> ToolResult<CallToolResult> {
        if !self.allow_merge {
            return Err(ToolError::Denied(
                "merging is switched off on this server (start it with --allow-merge)".into(),
            ));
        }
        let repo = self.scope.resolve(&a.repo)?;
        let method = match a.method.trim() {
            "" => "squash",
            m @ ("merge" | "squash" | "rebase") => m,
            _ => return Err(ToolError::invalid("method", "merge, squash or rebase")),
        };
        let mut body = json!({"merge_method": method});
        if !a.sha.trim().is_empty() {
            body["sha"] = json!(a.sha.trim());
        }
        let r: Value = self
            .gh
            .write(
                Method::PUT,
                &format!("{}/pulls/{}/merge", repo.path(), a.number),
                &body,
            )
            .await
            .map_err(|e| match e {
                ToolError::Upstream {
                    status: 405,
                    message,
                    ..
                } => ToolError::Conflict(format!(
                    "{message}: check mergeability, reviews and checks with pull_get"
                )),
                other => other,
            })?;
        Ok(budget::json(
            json!({"repo": repo.to_string(), "number": a.number, "merged": r["merged"], "sha": r["sha"], "method": method}),
        ))
    }
}
