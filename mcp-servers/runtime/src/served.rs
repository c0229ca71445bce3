//! The wrapper that turns a server's tool router into an MCP handler with our guarantees.
//!
//! [`Served`] owns the filtered router, so hidden tools are neither listed nor callable. Every
//! call is timed and counted, redacted, and capped by the output budget. Argument errors come
//! back from rmcp's router as tool results with `isError: true`.

use std::sync::Arc;
use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::args::ServerArgs;
use crate::budget;
use crate::filter::{self, FilterError, Toolsets};
use crate::metrics::{CallOutcome, Metrics};
use crate::redact::{redact, redact_json};

/// What a server tells the runtime about itself.
pub trait ToolServer: Send + Sync + Sized + 'static {
    /// The binary's name, reported in `initialize` and metrics (e.g. `mcp-kubernetes`).
    const NAME: &'static str;
    /// The server's version.
    const VERSION: &'static str;
    /// Default HTTP port for `--transport http`.
    const DEFAULT_PORT: u16;
    /// Every tool grouped into exactly one toolset.
    const TOOLSETS: Toolsets;

    /// All tools the server implements (usually `Self::tool_router()` from `#[tool_router]`).
    fn tools() -> ToolRouter<Self>;

    /// Short instructions for the model, sent in `initialize`.
    fn instructions(&self) -> String;
}

/// A [`ToolServer`] with its tool surface filtered, metered and budgeted.
pub struct Served<S: ToolServer> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    server: S,
    router: ToolRouter<S>,
    metrics: Arc<Metrics>,
    max_output_bytes: usize,
}

impl<S: ToolServer> Clone for Served<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: ToolServer> Served<S> {
    /// Applies the tool filters in `args` to `server`'s tools. Unknown names are an error.
    pub fn new(server: S, args: &ServerArgs, metrics: Arc<Metrics>) -> Result<Self, FilterError> {
        let mut router = S::tools();
        let all = router.list_all();
        let keep = filter::select(&all, S::TOOLSETS, args)?;
        for tool in &all {
            if !keep.contains(tool.name.as_ref()) {
                router.remove_route(&tool.name);
            }
        }
        for route in router.map.values_mut() {
            route.attr.input_schema = Arc::new(crate::schema::compact(&route.attr.input_schema));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                server,
                router,
                metrics,
                max_output_bytes: args.max_output_bytes,
            }),
        })
    }

    /// The tools this instance exposes, as `tools/list` returns them.
    pub fn tools(&self) -> Vec<Tool> {
        self.inner.router.list_all()
    }

    /// The metrics this instance records into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }
}

impl<S: ToolServer> ServerHandler for Served<S> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(S::NAME, S::VERSION))
            .with_instructions(self.inner.server.instructions())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.router.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let inner = &self.inner;
        let name = request.name.to_string();
        if !inner.router.has_route(&name) {
            // Hidden and unknown tools look the same: the model learns nothing about what the
            // operator switched off.
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{name}`: call tools/list for the available tools"),
                None,
            ));
        }
        let started = Instant::now();
        let response = inner
            .router
            .call(ToolCallContext::new(&inner.server, request, context))
            .await?;
        let CallToolResponse::Complete(result) = response else {
            return Ok(response);
        };
        let (result, truncated) = budget::cap(redact_result(result), inner.max_output_bytes);
        let error = result.is_error == Some(true);
        let elapsed = started.elapsed();
        inner.metrics.record(
            &name,
            CallOutcome {
                error,
                truncated,
                elapsed,
            },
        );
        tracing::debug!(tool = %name, error, truncated, ms = elapsed.as_millis() as u64, "tool call");
        Ok(CallToolResponse::Complete(result))
    }
}

fn redact_result(mut result: CallToolResult) -> CallToolResult {
    // Structured content bypasses the text path: every string in it is redacted too.
    if let Some(data) = &mut result.structured_content {
        redact_json(data);
    }
    for block in &mut result.content {
        if let Some(t) = block.as_text() {
            let clean = redact(&t.text);
            if clean != t.text {
                *block = ContentBlock::text(clean);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_content_is_redacted_like_text() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("ok")]);
        r.structured_content = Some(serde_json::json!({"auth": "Bearer abc.def.ghi", "n": 1}));
        let clean = redact_result(r);
        let data = clean
            .structured_content
            .map(|d| d.to_string())
            .unwrap_or_default();
        assert!(!data.contains("abc.def.ghi"), "{data}");
    }
}
