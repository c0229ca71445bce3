//! `agent-host`: drives an OpenAI-compatible model through tool calls on our MCP servers.
//!
//! - [`model`]: async-openai against any base URL, with retries that honour the provider's
//!   waits, a circuit breaker and token accounting.
//! - [`mcp`]: a pool of MCP client sessions (stdio children or Streamable HTTP), namespaced
//!   tools, per-flow allow-lists, restarts.
//! - [`agent`]: the bounded loop and typed answers.
//! - [`prompt`]: templates from `prompts/` and fencing of untrusted text.
//! - [`audit`]: run records and metrics.
//! - [`config`], [`cli`]: the YAML file and the subcommands.

pub mod agent;
pub mod approval;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod mcp;
pub mod model;
pub mod outbound;
pub mod prompt;
pub mod rollback;
pub mod serve;
