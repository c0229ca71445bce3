//! Pre-fetched evidence for one ApprovalTask, gathered by host code (not the model) through the
//! MCP servers: the approval context, then for the pipeline's git source the commit, the pull
//! request that introduced it and the repository's security alerts. The tool texts go into the
//! prompt (fenced when it is rendered); their structured data becomes policy facts.

use serde_json::{Value, json};

use crate::mcp::{ToolOutcome, Toolbox};

/// What was gathered; `notes` says what could not be, for the prompt and the audit.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub context: Value,
    pub repo: Option<String>,
    pub revision: Option<String>,
    pub commit: Option<Value>,
    pub pull: Option<Value>,
    pub alerts: Option<Value>,
    /// mcp-prometheus' firing alerts (asked only when a policy rule needs them).
    pub firing: Option<Value>,
    /// (label, tool text) in the order gathered.
    pub texts: Vec<(String, String)>,
    pub notes: Vec<String>,
    /// The calls that failed for a reason that says nothing about the change (rate limit,
    /// upstream down, timeout): the review waits and retries instead of deciding without them.
    pub transient: Vec<String>,
    /// The longest wait an upstream asked for.
    pub retry_after: Option<std::time::Duration>,
}

/// `owner/name` of a GitHub remote (`https://github.com/o/r(.git)`, `git@github.com:o/r.git`).
pub fn github_repo(url: &str) -> Option<String> {
    let rest = url
        .trim()
        .strip_prefix("https://github.com/")
        .or_else(|| url.trim().strip_prefix("http://github.com/"))
        .or_else(|| url.trim().strip_prefix("git@github.com:"))?;
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let (owner, name) = rest.split_once('/')?;
    (!owner.is_empty() && !name.is_empty() && !name.contains('/'))
        .then(|| format!("{owner}/{name}"))
}

fn keep(e: &mut Evidence, label: &str, out: &ToolOutcome) -> Option<Value> {
    if out.is_transient() {
        e.transient.push(format!(
            "{label}: {}",
            mcp_runtime::text::prefix(&out.text, 200)
        ));
        e.retry_after = e.retry_after.max(out.retry_after());
    }
    if out.is_error {
        e.notes.push(format!(
            "{label} unavailable: {}",
            out.text.chars().take(200).collect::<String>()
        ));
        return None;
    }
    e.texts.push((label.to_string(), out.text.clone()));
    out.data.clone()
}

/// The pull request that deployed `sha`: the one whose merge commit or head is `sha` (the
/// commit API lists every PR that contains the commit, newest first, and the first need not
/// be the one that shipped it); the only one listed when none is; otherwise none, with a note.
fn pull_of(pulls: &Value, sha: &str, notes: &mut Vec<String>) -> Option<u64> {
    let list = pulls["pulls"].as_array()?;
    let number = |p: &Value| p["number"].as_u64();
    if let Some(p) = list
        .iter()
        .find(|p| p["merge_commit_sha"] == sha || p["head_sha"] == sha)
    {
        return number(p);
    }
    match list.as_slice() {
        [] => None,
        [only] => number(only),
        many => {
            notes.push(format!(
                "{} pull requests contain the commit and none has it as its merge commit or head: which one shipped it is unknown",
                many.len()
            ));
            None
        }
    }
}

/// Gathers the evidence for `namespace/name` (and, with `firing`, the alerts firing now).
/// Fails only when the approval context itself is unavailable: without it there is nothing
/// to decide on.
pub async fn gather<T: Toolbox>(
    tools: &T,
    namespace: &str,
    name: &str,
    firing: bool,
) -> Result<Evidence, String> {
    let mut e = Evidence::default();
    let ctx = tools
        .call(
            "kubernetes.approval_context",
            json!({"namespace": namespace, "name": name}),
        )
        .await;
    e.context = keep(&mut e, "approval context", &ctx)
        .ok_or_else(|| format!("approval context of {namespace}/{name}: {}", ctx.text))?;
    if firing {
        // Before the git source: production on fire matters whatever the change is.
        let out = tools
            .call("prometheus.alerts", json!({"state": "firing"}))
            .await;
        e.firing = keep(&mut e, "alerts firing now", &out);
    }
    let git = &e.context["pipelineRun"]["git"];
    e.revision = git["revision"].as_str().map(str::to_string);
    e.repo = git["url"].as_str().and_then(github_repo);
    let (Some(repo), Some(sha)) = (e.repo.clone(), e.revision.clone()) else {
        e.notes.push(
            "the pipeline has no GitHub source and revision: the change could not be reviewed"
                .into(),
        );
        return Ok(e);
    };
    let (commit, pulls, alerts) = tokio::join!(
        tools.call(
            "github.commit_get",
            json!({"repo": repo, "sha": sha, "patch_lines": 30})
        ),
        tools.call("github.commit_pulls", json!({"repo": repo, "sha": sha})),
        tools.call("github.security_alerts", json!({"repo": repo})),
    );
    e.commit = keep(&mut e, "commit", &commit);
    let pulls = keep(&mut e, "pull requests of the commit", &pulls);
    e.alerts = keep(&mut e, "security alerts", &alerts);
    let number = pulls.as_ref().and_then(|p| pull_of(p, &sha, &mut e.notes));
    match number {
        Some(n) => {
            let pull = tools
                .call("github.pull_get", json!({"repo": repo, "number": n}))
                .await;
            e.pull = keep(&mut e, "pull request", &pull);
        }
        None if pulls
            .as_ref()
            .and_then(|p| p["pulls"].as_array())
            .is_some_and(|l| !l.is_empty()) => {}
        None => e
            .notes
            .push("no pull request introduced this commit (pushed directly?)".into()),
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::ToolSpec;
    use std::sync::Mutex;

    struct Canned {
        calls: Mutex<Vec<String>>,
    }

    impl Toolbox for Canned {
        async fn list(&self) -> Vec<ToolSpec> {
            Vec::new()
        }
        async fn call(&self, name: &str, args: Value) -> ToolOutcome {
            self.calls.lock().unwrap().push(format!("{name} {args}"));
            let data = match name {
                "kubernetes.approval_context" => json!({"task": {"namespace": "ci"},
                    "pipelineRun": {"git": {"url": "https://github.com/acme/shop.git", "revision": "bebba7a"}}}),
                "github.commit_get" => {
                    json!({"files": [{"path": "Cargo.toml"}], "additions": 1, "deletions": 1})
                }
                "github.commit_pulls" => {
                    json!({"pulls": [{"number": 42, "merged": true, "base": "main"}]})
                }
                "github.security_alerts" => {
                    return ToolOutcome::error("github answered HTTP 403: disabled");
                }
                "github.pull_get" => json!({"number": 42}),
                _ => return ToolOutcome::error("unknown"),
            };
            ToolOutcome {
                text: format!("text of {name}"),
                is_error: false,
                data: Some(data),
            }
        }
    }

    #[tokio::test]
    async fn gathers_context_change_and_pull_request() {
        let tools = Canned {
            calls: Mutex::new(Vec::new()),
        };
        let e = gather(&tools, "ci", "t", false).await.unwrap();
        assert_eq!(
            (e.repo.as_deref(), e.revision.as_deref()),
            (Some("acme/shop"), Some("bebba7a"))
        );
        assert_eq!(e.pull.as_ref().unwrap()["number"], 42);
        assert!(e.alerts.is_none() && e.notes[0].contains("security alerts unavailable"));
        let calls = tools.calls.lock().unwrap().clone();
        assert!(
            calls
                .last()
                .unwrap()
                .starts_with("github.pull_get {\"number\":42,\"repo\":\"acme/shop\"}"),
            "{calls:?}"
        );
        assert_eq!(e.texts.len(), 4);
    }

    #[test]
    fn github_remotes_parse() {
        assert_eq!(
            github_repo("git@github.com:acme/shop.git").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(
            github_repo("https://github.com/acme/shop/").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(github_repo("https://gitlab.com/acme/shop"), None);
    }
}
