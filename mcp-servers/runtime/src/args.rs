//! Command-line arguments every server flattens into its own `Args`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How the server talks to its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout (Claude Desktop and any local MCP client).
    Stdio,
    /// MCP Streamable HTTP at `/mcp`, plus `/healthz` and `/metrics`.
    Http,
}

/// Transport, auth, tool-surface and budget options shared by all servers.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Transport to serve on.
    #[arg(long, value_enum, default_value = "stdio", env = "MCP_TRANSPORT")]
    pub transport: Transport,

    /// Address to listen on with `--transport http` (default: 127.0.0.1 and the server's port).
    #[arg(long, env = "MCP_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// File holding the bearer token HTTP clients must send.
    #[arg(long, env = "MCP_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,

    /// Bearer token HTTP clients must send (prefer `--auth-token-file`).
    #[arg(long, env = "MCP_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,

    /// Serve HTTP without a token. Refused unless the listen address is loopback.
    #[arg(long, env = "MCP_NO_AUTH")]
    pub no_auth: bool,

    /// Extra `Host` header values accepted on HTTP (DNS-rebinding defence; loopback is always allowed).
    #[arg(long, value_delimiter = ',', env = "MCP_ALLOWED_HOSTS")]
    pub allowed_hosts: Vec<String>,

    /// `Origin` values accepted on HTTP (e.g. `https://app.example.com:443`); empty: browser origins refused.
    #[arg(long, value_delimiter = ',', env = "MCP_ALLOWED_ORIGINS")]
    pub allowed_origins: Vec<String>,

    /// Serve `/metrics` without the bearer token (for a scraper that cannot send one).
    #[arg(long, env = "MCP_METRICS_PUBLIC")]
    pub metrics_public: bool,

    /// Largest HTTP request body accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20, env = "MCP_MAX_BODY_BYTES")]
    pub max_body_bytes: usize,

    /// Expose only read-only tools (overrides `--allow-writes`).
    #[arg(long, env = "MCP_READ_ONLY")]
    pub read_only: bool,

    /// Expose tools that change things upstream. Off by default.
    #[arg(long, env = "MCP_ALLOW_WRITES")]
    pub allow_writes: bool,

    /// Toolsets to expose (default: all). Unknown names are a start-up error.
    #[arg(long, value_delimiter = ',', env = "MCP_TOOLSETS")]
    pub toolsets: Vec<String>,

    /// Allow-list of tool names (default: all in the chosen toolsets).
    #[arg(long, value_delimiter = ',', env = "MCP_TOOLS")]
    pub tools: Vec<String>,

    /// Tool names to hide.
    #[arg(long, value_delimiter = ',', env = "MCP_EXCLUDE_TOOLS")]
    pub exclude_tools: Vec<String>,

    /// Largest tool result, in bytes; larger results are cut at a row boundary with a note.
    #[arg(long, default_value_t = 16 * 1024, env = "MCP_MAX_OUTPUT_BYTES")]
    pub max_output_bytes: usize,
}

impl Default for ServerArgs {
    fn default() -> Self {
        Self {
            transport: Transport::Stdio,
            listen: None,
            auth_token_file: None,
            auth_token: None,
            no_auth: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            metrics_public: false,
            max_body_bytes: 1 << 20,
            read_only: false,
            allow_writes: false,
            toolsets: Vec::new(),
            tools: Vec::new(),
            exclude_tools: Vec::new(),
            max_output_bytes: 16 * 1024,
        }
    }
}
