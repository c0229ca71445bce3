//! Bodies of the write tools. Each is exposed only with writes enabled; merging also needs its
//! own switch.

use std::collections::{BTreeMap, BTreeSet};

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
use crate::revert::{self, Changed};
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
        let entries = revert::plan(&changed, &parent_files, &later_paths)
            .map_err(|r| ToolError::Conflict(r.to_string()))?;
        let head_commit: GitCommit = self
            .gh
            .get(&format!("{}/git/commits/{head_sha}", repo.path()))
            .await?;
        let tree: Tree = self
            .gh
            .write(
                Method::POST,
                &format!("{}/git/trees", repo.path()),
                &json!({"base_tree": head_commit.tree.sha, "tree": entries}),
            )
            .await?;
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
            .map(|e| json!({"path": e.path, "action": if e.sha.is_some() { "restored" } else { "deleted" }}))
            .collect();
        Ok(budget::json(json!({
            "repo": repo.to_string(), "branch": branch, "commit": new.sha, "base": base,
            "baseHead": head_commit.sha, "reverted": commit.sha, "parent": parent, "files": files,
            "next": format!("open a pull request from {branch} into {base}"),
        })))
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
