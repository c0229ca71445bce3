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
}

/// What the loop needs from tools; the pool implements it, tests may plug in others.
pub trait Toolbox: Send + Sync {
    /// The tools offered.
    fn list(&self) -> impl Future<Output = Vec<ToolSpec>> + Send;
    /// Calls a tool by its namespaced name.
    fn call(&self, name: &str, args: Value) -> impl Future<Output = ToolOutcome> + Send;
}

/// Tool names a flow may use: exact `server.tool` names or `server.*`.
#[derive(Debug, Clone, Default)]
pub struct AllowList(pub Vec<String>);

impl AllowList {
    /// Whether `name` (`server.tool`) is allowed.
    pub fn allows(&self, name: &str) -> bool {
        self.0.iter().any(|p| match p.strip_suffix(".*") {
            Some(server) => name.split_once('.').is_some_and(|(s, _)| s == server),
            None => p == name,
        })
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
}

impl<T: Toolbox> Toolbox for std::sync::Arc<T> {
    async fn list(&self) -> Vec<ToolSpec> {
        self.as_ref().list().await
    }

    async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        self.as_ref().call(name, args).await
    }
}

impl<T: Toolbox> Toolbox for Scoped<'_, T> {
    async fn list(&self) -> Vec<ToolSpec> {
        self.pool
            .list()
            .await
            .into_iter()
            .filter(|t| self.allow.allows(&t.name))
            .collect()
    }

    async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        // Enforced here, not only by what was offered: a model may name a hidden tool.
        if !self.allow.allows(name) {
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

    #[test]
    fn allow_lists_take_exact_names_and_server_wildcards() {
        let a = AllowList(vec!["github.*".into(), "kubernetes.pods_log".into()]);
        assert!(a.allows("github.commit_get") && a.allows("kubernetes.pods_log"));
        assert!(!a.allows("kubernetes.approvaltask_decide") && !a.allows("githubx.y"));
    }
}
