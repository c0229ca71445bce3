//! Helpers for tests that drive a server through a real MCP client session (rmcp).
//!
//! These panic on failure: they exist to make test assertions read like the behaviour they
//! check, and are only used from tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

/// A connected client session.
pub type Client = RunningService<RoleClient, ()>;

/// Spawns `cmd` as a stdio MCP server and completes `initialize`.
pub async fn stdio(cmd: tokio::process::Command) -> Client {
    ().serve(TokioChildProcess::new(cmd).expect("spawn the server"))
        .await
        .expect("initialize")
}

/// Calls `tool` with a JSON object of arguments; protocol errors panic, tool errors return.
pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().expect("arguments are an object").clone());
    client.call_tool(params).await.expect("tools/call")
}

/// True when calling `tool` is a protocol error (e.g. a hidden or unknown tool).
pub async fn call_is_refused(client: &Client, tool: &str, args: Value) -> bool {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().expect("arguments are an object").clone());
    client.call_tool(params).await.is_err()
}

/// All text content of a result.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("")
}

/// The text of a successful result; panics on a tool error.
pub fn ok(r: &CallToolResult) -> String {
    assert_ne!(r.is_error, Some(true), "unexpected tool error: {}", text(r));
    text(r)
}

/// The text of a tool error; panics on success.
pub fn err(r: &CallToolResult) -> String {
    assert_eq!(
        r.is_error,
        Some(true),
        "expected a tool error, got: {}",
        text(r)
    );
    text(r)
}

/// Names of the tools the server lists.
pub async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// A server's entry in one of the shipped Claude Desktop examples (`examples/<file>`): its
/// command name, arguments and environment, as Claude Desktop would start it.
pub fn claude_desktop_entry(
    file: &str,
    server: &str,
) -> (String, Vec<String>, Vec<(String, String)>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(file);
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("example file"))
            .expect("example JSON");
    let entry = &config["mcpServers"][server];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect()
    };
    let env = entry["env"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    (
        entry["command"].as_str().unwrap_or_default().to_string(),
        strings(&entry["args"]),
        env,
    )
}
