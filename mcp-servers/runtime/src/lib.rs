//! `mcp-runtime`: everything our MCP servers share and nothing server-specific.
//!
//! A server in this workspace is a struct with an rmcp `#[tool_router]` impl. It implements
//! [`ToolServer`] (name, instructions, toolsets) and hands itself to [`serve`], which:
//!
//! - filters the tool surface ([`filter`]): read-only mode, the writes switch, toolsets and
//!   allow/deny lists, with unknown names refused at start-up;
//! - wraps every call ([`served`]): metrics per tool, the output budget ([`budget`]) and
//!   secret redaction ([`redact`]);
//! - runs it over stdio or MCP Streamable HTTP ([`http`]) with bearer auth, `Host`/`Origin`
//!   allow-lists, a body limit, `/healthz` and Prometheus `/metrics` ([`metrics`]).
//!
//! Tool failures are results with `isError: true` built by [`error::ToolError`], never protocol
//! errors and never panics.

pub mod args;
pub mod budget;
pub mod error;
pub mod fence;
pub mod filter;
pub mod http;
pub mod metrics;
pub mod redact;
pub mod schema;
pub mod serve;
pub mod served;
pub mod sync;
pub mod telemetry;
pub mod text;

pub use args::{ServerArgs, Transport};
pub use error::{ToolError, ToolResult};
pub use serve::serve;
pub use served::{Served, ToolServer};
