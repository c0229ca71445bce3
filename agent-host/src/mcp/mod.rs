//! The MCP side of the host: a pool of client sessions to the servers (stdio children or
//! Streamable HTTP), namespaced tools, per-flow allow-lists, and restarts of crashed servers.

pub mod pool;

use std::future::Future;

use serde_json::Value;

pub use pool::{Endpoint, Pool, ServerSpec};

/// A tool as the model sees it: `server.tool`, description, input schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub schema: Value,
    /// The server annotated it `readOnlyHint: true`. MCP's default for a missing hint is
    /// `false` ("may modify its environment"), so an unannotated tool counts as a write.
    pub read_only: bool,
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// What the model sees.
    pub text: String,
    pub is_error: bool,
    /// The server's `structuredContent`, for host code (policy facts); never sent to the model.
    pub data: Option<Value>,
}

impl ToolOutcome {
    /// A failed call with a message for the model.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
            data: None,
        }
    }

    /// A failed call that may succeed later (the server is down or restarting, no answer in
    /// time), marked as the servers mark theirs (`structuredContent.error.transient`).
    pub fn transient(text: impl Into<String>) -> Self {
        Self {
            data: Some(serde_json::json!({"error": {"kind": "unavailable", "transient": true}})),
            ..Self::error(text)
        }
    }

    /// A failure that says nothing about the evidence: a rate limit, an unreachable or
    /// overloaded upstream, a timeout. Retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        self.is_error
            && self
                .data
                .as_ref()
                .is_some_and(|d| d["error"]["transient"] == true)
    }

    /// How long the upstream asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        let secs = self.data.as_ref()?["error"]["retry_after_secs"].as_u64()?;
        Some(std::time::Duration::from_secs(secs))
    }
}

/// What the loop needs from tools; the pool implements it, tests may plug in others.
pub trait Toolbox: Send + Sync {
    /// The tools offered.
    fn list(&self) -> impl Future<Output = Vec<ToolSpec>> + Send;
    /// Calls a tool by its namespaced name.
    fn call(&self, name: &str, args: Value) -> impl Future<Output = ToolOutcome> + Send;
    /// One offered tool by name (by default looked up in [`Toolbox::list`]).
    fn spec(&self, name: &str) -> impl Future<Output = Option<ToolSpec>> + Send {
        async move { self.list().await.into_iter().find(|t| t.name == name) }
    }
}

/// The tools a flow's model may use: exact `server.tool` names or `server.*` patterns, and
/// only tools annotated read-only, whatever the patterns say, unless a write tool is named
/// in `writes` (exactly, never by pattern). The flows' own writes are host code calling the
/// pool directly; this list is what the *model* reaches.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    patterns: Vec<String>,
    writes: Vec<String>,
}

impl AllowList {
    /// Read-only tools matching `patterns`.
    pub fn new(patterns: Vec<String>) -> Self {
        Self {
            patterns,
            writes: Vec::new(),
        }
    }

    /// Also the write tools named here (each must match a pattern too).
    pub fn with_writes(mut self, writes: Vec<String>) -> Self {
        self.writes = writes;
        self
    }

    /// Whether `name` (`server.tool`) matches the patterns.
    pub fn matches(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| match p.strip_suffix(".*") {
            Some(server) => name.split_once('.').is_some_and(|(s, _)| s == server),
            None => p == name,
        })
    }

    /// Whether the model may be offered and may call `tool`.
    pub fn allows(&self, tool: &ToolSpec) -> bool {
        self.matches(&tool.name) && (tool.read_only || self.writes.contains(&tool.name))
    }
}

/// A pool (or any toolbox) seen through a flow's allow-list.
pub struct Scoped<'a, T = Pool> {
    pub pool: &'a T,
    pub allow: &'a AllowList,
}

impl Toolbox for Pool {
    async fn list(&self) -> Vec<ToolSpec> {
        self.tools().await
    }

    async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        Pool::call(self, name, args).await
    }

    async fn spec(&self, name: &str) -> Option<ToolSpec> {
        self.tool(name).await
    }
}

impl<T: Toolbox> Toolbox for std::sync::Arc<T> {
    async fn list(&self) -> Vec<ToolSpec> {
        self.as_ref().list().await
    }

    async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        self.as_ref().call(name, args).await
    }

    async fn spec(&self, name: &str) -> Option<ToolSpec> {
        self.as_ref().spec(name).await
    }
}

impl<T: Toolbox> Toolbox for Scoped<'_, T> {
    async fn list(&self) -> Vec<ToolSpec> {
        self.pool
            .list()
            .await
            .into_iter()
            .filter(|t| self.allow.allows(t))
            .collect()
    }

    async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        // Enforced here, not only by what was offered: a model may name a hidden tool. The
        // annotations are read again, so a tool that stopped being read-only is refused.
        let offered = self.allow.matches(name)
            && self
                .pool
                .spec(name)
                .await
                .is_some_and(|t| self.allow.allows(&t));
        if !offered {
            return ToolOutcome::error(format!(
                "tool `{name}` is not available in this flow; use only the tools you were given"
            ));
        }
        self.pool.call(name, args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, read_only: bool) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            schema: Value::Null,
            read_only,
        }
    }

    #[test]
    fn allow_lists_take_exact_names_and_server_wildcards() {
        let a = AllowList::new(vec!["github.*".into(), "kubernetes.pods_log".into()]);
        assert!(a.allows(&tool("github.commit_get", true)));
        assert!(a.allows(&tool("kubernetes.pods_log", true)));
        assert!(!a.allows(&tool("kubernetes.approvaltask_decide", true)));
        assert!(!a.allows(&tool("githubx.y", true)));
    }

    #[test]
    fn write_tools_need_an_opt_in_by_name_whatever_the_patterns() {
        let merge = tool("github.pull_merge", false);
        let a = AllowList::new(vec!["github.*".into()]);
        assert!(!a.allows(&merge), "a wildcard never reaches a write");
        let exact = AllowList::new(vec!["github.pull_merge".into()]);
        assert!(!exact.allows(&merge), "nor does naming it as a read");
        let opted =
            AllowList::new(vec!["github.*".into()]).with_writes(vec!["github.pull_merge".into()]);
        assert!(opted.allows(&merge));
        let unlisted =
            AllowList::new(vec!["slack.*".into()]).with_writes(vec!["github.pull_merge".into()]);
        assert!(
            !unlisted.allows(&merge),
            "the opt-in must match a pattern too"
        );
    }
}
