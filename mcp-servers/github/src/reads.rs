//! Bodies of the read tools.

use base64::Engine;
use mcp_runtime::budget::{self, Table};
use mcp_runtime::fence::untrusted;
use mcp_runtime::{ToolError, ToolResult};
use octocrab::models::checks::ListCheckRuns;
use octocrab::models::pulls::{PullRequest, Review};
use octocrab::models::repos::{DiffEntry, RepoCommit};
use octocrab::models::workflows::Run;
use octocrab::models::{CombinedStatus, issues::Issue};
use rmcp::model::CallToolResult;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{encode, with_query};
use crate::render::{self, short};
use crate::server::*;

/// Largest file `file_get` shows.
const MAX_FILE_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct Comparison {
    status: String,
    ahead_by: i64,
    behind_by: i64,
    #[serde(default)]
    commits: Vec<RepoCommit>,
    #[serde(default)]
    files: Option<Vec<DiffEntry>>,
}

#[derive(Deserialize)]
struct Runs {
    total_count: u64,
    workflow_runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Search {
    total_count: u64,
    items: Vec<Issue>,
}

/// A non-empty, trimmed required argument.
pub(crate) fn required<'a>(field: &str, v: &'a str) -> ToolResult<&'a str> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ToolError::invalid(field, "must not be empty"));
    }
    Ok(v)
}

/// A page number from a cursor argument.
fn page(cursor: &str) -> ToolResult<String> {
    match cursor.trim() {
        "" => Ok(String::new()),
        c => c
            .parse::<u32>()
            .map(|p| p.to_string())
            .map_err(|_| ToolError::invalid("cursor", "pass the cursor a previous page returned")),
    }
}

fn more(next: Option<u32>) -> String {
    next.map(|p| format!("\nmore: cursor=\"{p}\""))
        .unwrap_or_default()
}

fn time_arg(field: &str, v: &str) -> ToolResult<String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    v.parse::<jiff::Timestamp>()
        .map(|t| t.to_string())
        .map_err(|_| ToolError::invalid(field, "use ISO 8601, e.g. 2026-11-20T09:00:00Z"))
}

impl GitHubServer {
    pub(crate) async fn read_file(&self, a: FileArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let path = a.path.trim().trim_matches('/');
        if path.split('/').any(|p| p == "..") {
            return Err(ToolError::invalid("path", "must not contain `..`"));
        }
        let encoded: Vec<String> = path.split('/').map(encode).collect();
        let url = with_query(
            &format!("{}/contents/{}", repo.path(), encoded.join("/")),
            &[("ref", a.git_ref.trim().to_string())],
        );
        let v: Value = self.gh.get(&url).await?;
        let at = if a.git_ref.trim().is_empty() {
            "default branch"
        } else {
            a.git_ref.trim()
        };
        if let Some(entries) = v.as_array() {
            let mut t = Table::new(["TYPE", "SIZE", "PATH"]);
            for e in entries {
                t.row([
                    e["type"].as_str().unwrap_or("-").to_string(),
                    e["size"].as_u64().unwrap_or(0).to_string(),
                    e["path"].as_str().unwrap_or("-").to_string(),
                ]);
            }
            return Ok(budget::text(format!(
                "{repo}:{path}/ at {at} ({} entries)\n{}",
                t.len(),
                untrusted("file names", &t.render())
            )));
        }
        let size = v["size"].as_u64().unwrap_or(0);
        let sha = v["sha"].as_str().unwrap_or("-");
        if v["type"].as_str() != Some("file") {
            return Ok(budget::text(format!(
                "{repo}:{path} at {at} is a {} (sha {sha})",
                v["type"].as_str().unwrap_or("?")
            )));
        }
        let head = format!("{repo}:{path} at {at}, {size} bytes, blob {}", short(sha));
        if v["encoding"].as_str() != Some("base64") || size as usize > MAX_FILE_BYTES {
            return Ok(budget::text(format!(
                "{head}\nnot shown: larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        let raw = v["content"]
            .as_str()
            .unwrap_or("")
            .replace(['\n', '\r'], "");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|e| ToolError::Upstream {
                service: "github",
                status: 200,
                message: format!("file content is not base64: {e}"),
            })?;
        match String::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => Ok(budget::with_hint(
                // The content goes to programs as data to parse (a config file), never to act on.
                budget::text_with_data(
                    format!("{head}\n{}", untrusted(&format!("file {path}"), &text)),
                    json!({"path": path, "sha": sha, "size": size, "content": text}),
                ),
                "the file is larger than the output budget; read a narrower path or ask for a diff instead",
            )),
            _ => Ok(budget::text(format!("{head}\nbinary file: not shown"))),
        }
    }

    pub(crate) async fn list_commits(&self, a: CommitsArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let url = with_query(
            &format!("{}/commits", repo.path()),
            &[
                ("sha", a.branch.trim().to_string()),
                ("path", a.path.trim().to_string()),
                ("since", time_arg("since", &a.since)?),
                ("until", time_arg("until", &a.until)?),
                ("per_page", a.limit.unwrap_or(20).clamp(1, 100).to_string()),
                ("page", page(&a.cursor)?),
            ],
        );
        let p = self.gh.page::<Vec<RepoCommit>>(&url).await?;
        if p.items.is_empty() {
            return Ok(budget::text(format!("{repo}: no commits match")));
        }
        let data = json!({"commits": p.items.iter().map(|c| json!({"sha": c.sha,
            "date": c.commit.author.as_ref().and_then(|a| a.date).map(|d| d.to_rfc3339()),
            "author": render::commit_author(c)})).collect::<Vec<_>>()});
        Ok(budget::with_hint(
            budget::text_with_data(
                format!(
                    "{repo}: {} commits\n{}{}",
                    p.items.len(),
                    render::commits_table(&p.items),
                    more(p.next_page)
                ),
                data,
            ),
            "narrow with path, since/until or a smaller limit",
        ))
    }

    pub(crate) async fn get_commit(&self, a: CommitArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let sha = required("sha", &a.sha)?;
        let c: RepoCommit = self
            .gh
            .get(&format!("{}/commits/{}", repo.path(), encode(sha)))
            .await?;
        let files = c.files.clone().unwrap_or_default();
        let stats = c.stats.as_ref();
        let parents: Vec<&str> = c.parents.iter().filter_map(|p| p.sha.as_deref()).collect();
        let mut out = format!(
            "commit {}\nauthor {} at {}\nparents {}\nstats +{} -{} in {} files\n{}\n\nfiles:\n{}",
            c.sha,
            render::commit_author(&c),
            render::commit_time(&c),
            parents.join(" "),
            stats.and_then(|s| s.additions).unwrap_or(0),
            stats.and_then(|s| s.deletions).unwrap_or(0),
            files.len(),
            untrusted("commit message", &c.commit.message),
            render::files_table(&files),
        );
        let lines = usize::from(a.patch_lines.unwrap_or(40));
        if lines > 0 {
            out.push_str("\npatches:\n");
            out.push_str(&render::patches(&files, lines));
        }
        // For programs (policy checks): facts only, no free text.
        let data = serde_json::json!({
            "sha": c.sha, "parents": parents, "author": render::commit_author(&c),
            "additions": stats.and_then(|s| s.additions).unwrap_or(0),
            "deletions": stats.and_then(|s| s.deletions).unwrap_or(0),
            "files": files.iter().map(|f| serde_json::json!({"path": f.filename, "status": render::file_status(&f.status),
                "additions": f.additions, "deletions": f.deletions, "previous_path": f.previous_filename})).collect::<Vec<_>>(),
        });
        Ok(budget::with_hint(
            budget::text_with_data(out, data),
            "lower patch_lines (0: summary only), or read one file with file_get",
        ))
    }

    pub(crate) async fn compare(&self, a: CompareArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let (base, head) = (required("base", &a.base)?, required("head", &a.head)?);
        let c: Comparison = self
            .gh
            .get(&format!(
                "{}/compare/{}...{}",
                repo.path(),
                encode(base),
                encode(head)
            ))
            .await?;
        let files = c.files.unwrap_or_default();
        Ok(budget::with_hint(
            budget::text(format!(
                "{repo} {base}...{head}: {} (ahead {}, behind {})\ncommits:\n{}\nfiles:\n{}",
                c.status,
                c.ahead_by,
                c.behind_by,
                render::commits_table(&c.commits),
                render::files_table(&files)
            )),
            "compare closer refs, or use commit_get for one commit",
        ))
    }

    pub(crate) async fn list_pulls(&self, a: PullsArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let state = match a.state.trim() {
            "" => "open",
            s @ ("open" | "closed" | "all") => s,
            _ => return Err(ToolError::invalid("state", "open, closed or all")),
        };
        if !a.query.trim().is_empty() {
            let mut q = format!("repo:{repo} is:pr {}", a.query.trim());
            if state != "all" {
                q.push_str(&format!(" is:{state}"));
            }
            if !a.head.trim().is_empty() {
                q.push_str(&format!(" head:{}", a.head.trim()));
            }
            let url = with_query(
                "/search/issues",
                &[
                    ("q", q),
                    ("per_page", "30".into()),
                    ("page", page(&a.cursor)?),
                ],
            );
            let p = self.gh.page::<Search>(&url).await?;
            let mut t = Table::new(["#", "STATE", "AUTHOR", "UPDATED", "TITLE"]);
            for i in &p.items.items {
                t.row([
                    i.number.to_string(),
                    format!("{:?}", i.state).to_lowercase(),
                    i.user.login.clone(),
                    i.updated_at.format("%Y-%m-%d %H:%MZ").to_string(),
                    i.title.clone(),
                ]);
            }
            return Ok(budget::text(format!(
                "{repo}: {} pull requests match\n{}{}",
                p.items.total_count,
                untrusted("pull request titles", &t.render()),
                more(p.next_page)
            )));
        }
        let head = match a.head.trim() {
            "" => String::new(),
            h if h.contains(':') => h.to_string(),
            h => format!("{}:{h}", repo.owner),
        };
        let url = with_query(
            &format!("{}/pulls", repo.path()),
            &[
                ("state", state.into()),
                ("head", head),
                ("per_page", "30".into()),
                ("page", page(&a.cursor)?),
            ],
        );
        let p = self.gh.page::<Vec<PullRequest>>(&url).await?;
        let data = json!({"pulls": p.items.iter().map(|pr| json!({"number": pr.number,
            "head": pr.head.ref_field, "base": pr.base.ref_field,
            "url": pr.html_url.as_ref().map(|u| u.to_string())})).collect::<Vec<_>>()});
        if p.items.is_empty() {
            return Ok(budget::text_with_data(
                format!("{repo}: no {state} pull requests match"),
                data,
            ));
        }
        Ok(budget::text_with_data(
            format!(
                "{repo}: {} pull requests\n{}{}",
                p.items.len(),
                render::pulls_table(&p.items),
                more(p.next_page)
            ),
            data,
        ))
    }

    pub(crate) async fn get_pull(&self, a: PullArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let base = format!("{}/pulls/{}", repo.path(), a.number);
        let pr: PullRequest = self.gh.get(&base).await?;
        let head_sha = pr.head.sha.clone();
        let urls = [
            format!("{base}/files?per_page=100"),
            format!("{base}/commits?per_page=100"),
            format!("{base}/reviews"),
            format!("{}/commits/{head_sha}/check-runs", repo.path()),
            format!("{}/commits/{head_sha}/status", repo.path()),
        ];
        let (files, commits, reviews, checks, status) = tokio::try_join!(
            self.gh.page::<Vec<DiffEntry>>(&urls[0]),
            self.gh.page::<Vec<RepoCommit>>(&urls[1]),
            self.gh.get::<Vec<Review>>(&urls[2]),
            self.gh.get::<ListCheckRuns>(&urls[3]),
            self.gh.get::<CombinedStatus>(&urls[4]),
        )?;
        let mut review_t = Table::new(["REVIEWER", "STATE"]);
        for r in &reviews {
            review_t.row([
                r.user.as_ref().map(|u| u.login.clone()).unwrap_or_default(),
                r.state
                    .as_ref()
                    .and_then(|s| serde_json::to_value(s).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            ]);
        }
        let mut check_t = Table::new(["CHECK", "STATUS", "CONCLUSION"]);
        for c in &checks.check_runs {
            let status = if c.completed_at.is_some() {
                "completed"
            } else {
                "in_progress"
            };
            check_t.row([
                c.name.clone(),
                status.to_string(),
                c.conclusion.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        for s in &status.statuses {
            check_t.row([
                s.context.clone().unwrap_or_default(),
                "status".into(),
                format!("{:?}", s.state).to_lowercase(),
            ]);
        }
        let state = if pr.merged_at.is_some() {
            "merged".to_string()
        } else {
            pr.state
                .as_ref()
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_default()
        };
        // Branch and label names are anyone's words: fenced with the title and body.
        let labels = pr
            .labels
            .as_ref()
            .filter(|l| !l.is_empty())
            .map(|l| {
                format!(
                    " [labels {}]",
                    l.iter()
                        .map(|l| l.name.clone())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .unwrap_or_default();
        let names = untrusted(
            "branches and labels",
            &format!("{} -> {}{labels}", pr.head.ref_field, pr.base.ref_field),
        );
        let out = format!(
            "#{} {} by {} at {}\n{names}\nmergeable: {} ({})\nchanges: +{} -{} in {} files, {} commits\nurl: {}\ntitle+body:\n{}\nfiles:\n{}\ncommits:\n{}\nreviews:\n{}\nchecks:\n{}",
            pr.number,
            state,
            pr.user.as_ref().map(|u| u.login.as_str()).unwrap_or("-"),
            short(&head_sha),
            pr.mergeable
                .map(|m| m.to_string())
                .unwrap_or_else(|| "unknown".into()),
            pr.mergeable_state
                .as_ref()
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_else(|| "-".into()),
            pr.additions.unwrap_or(0),
            pr.deletions.unwrap_or(0),
            pr.changed_files.unwrap_or(0),
            pr.commits.unwrap_or(0),
            pr.html_url
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default(),
            untrusted(
                "pull request",
                &format!(
                    "{}\n\n{}",
                    pr.title.clone().unwrap_or_default(),
                    pr.body.clone().unwrap_or_default()
                )
            ),
            render::files_table(&files.items),
            render::commits_table(&commits.items),
            if reviews.is_empty() {
                "(none)".to_string()
            } else {
                review_t.render()
            },
            if check_t.is_empty() {
                "(none)".to_string()
            } else {
                // Check and status names come from whatever CI the repository runs.
                untrusted("check names", &check_t.render())
            },
        );
        let data = serde_json::json!({
            "number": pr.number, "state": state, "head_sha": head_sha, "base": pr.base.ref_field,
            "mergeable": pr.mergeable, "author": pr.user.as_ref().map(|u| u.login.clone()),
            "additions": pr.additions, "deletions": pr.deletions,
            // A rename counts on both paths: moving a file out of a protected path changes it.
            "files": files.items.iter().map(|f| serde_json::json!({"path": f.filename, "status": render::file_status(&f.status),
                "additions": f.additions, "deletions": f.deletions, "previous_path": f.previous_filename})).collect::<Vec<_>>(),
            "commit_authors": commits.items.iter().map(render::commit_author).collect::<Vec<_>>(),
            "reviews": reviews.iter().map(|r| serde_json::json!({"user": r.user.as_ref().map(|u| u.login.clone()),
                "state": r.state.as_ref().and_then(|s| serde_json::to_value(s).ok())})).collect::<Vec<_>>(),
            "checks": checks.check_runs.iter().map(|c| serde_json::json!({"name": c.name, "completed": c.completed_at.is_some(),
                "conclusion": c.conclusion})).collect::<Vec<_>>(),
            "statuses": status.statuses.iter().map(|s| serde_json::json!({"context": s.context,
                "state": format!("{:?}", s.state).to_lowercase()})).collect::<Vec<_>>(),
        });
        Ok(budget::with_hint(
            budget::text_with_data(out, data),
            "use commit_get on one commit for patches",
        ))
    }

    pub(crate) async fn pulls_of_commit(&self, a: ShaArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let sha = required("sha", &a.sha)?;
        let pulls: Vec<PullRequest> = self
            .gh
            .get(&format!("{}/commits/{}/pulls", repo.path(), encode(sha)))
            .await?;
        let data = serde_json::json!({"pulls": pulls.iter().map(|p| serde_json::json!({
            "number": p.number, "merged": p.merged_at.is_some(), "base": p.base.ref_field,
            "merge_commit_sha": p.merge_commit_sha, "head_sha": p.head.sha,
        })).collect::<Vec<_>>()});
        if pulls.is_empty() {
            return Ok(budget::text_with_data(
                format!("{repo}: no pull request contains {sha} (pushed directly?)"),
                data,
            ));
        }
        Ok(budget::text_with_data(
            format!(
                "{repo}: pull requests containing {}\n{}",
                short(sha),
                render::pulls_table(&pulls)
            ),
            data,
        ))
    }

    pub(crate) async fn list_runs(&self, a: RunsArgs) -> ToolResult<CallToolResult> {
        let repo = self.scope.resolve(&a.repo)?;
        let url = with_query(
            &format!("{}/actions/runs", repo.path()),
            &[
                ("branch", a.branch.trim().to_string()),
                ("event", a.event.trim().to_string()),
                ("head_sha", a.sha.trim().to_string()),
                ("per_page", a.limit.unwrap_or(20).clamp(1, 100).to_string()),
            ],
        );
        let runs: Runs = self.gh.get(&url).await?;
        let mut t = Table::new([
            "ID", "WORKFLOW", "EVENT", "BRANCH", "SHA", "RESULT", "STARTED", "UPDATED",
        ]);
        for r in &runs.workflow_runs {
            t.row([
                r.id.to_string(),
                r.name.clone(),
                r.event.clone(),
                r.head_branch.clone(),
                short(&r.head_sha).to_string(),
                r.conclusion.clone().unwrap_or_else(|| r.status.clone()),
                r.created_at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
                r.updated_at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            ]);
        }
        let data = json!({"runs": runs.workflow_runs.iter().map(|r| json!({"id": r.id,
            "event": r.event, "branch": r.head_branch, "head_sha": r.head_sha,
            "status": r.status, "conclusion": r.conclusion,
            "created_at": r.created_at.to_rfc3339(), "updated_at": r.updated_at.to_rfc3339()}))
            .collect::<Vec<_>>()});
        Ok(budget::text_with_data(
            format!(
                "{repo}: {} of {} runs (UPDATED of a completed run is when it finished)\n{}",
                t.len(),
                runs.total_count,
                untrusted("workflow names", &t.render())
            ),
            data,
        ))
    }
}
