//! Tool failures as results a model and a human can act on.
//!
//! Every variant renders as one sentence saying what failed and what to change. They become
//! `CallToolResult`s with `isError: true` (never JSON-RPC protocol errors), after redaction.

use rmcp::model::{CallToolResult, ContentBlock};

use crate::redact::redact;

/// A tool call that could not produce its result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// An argument is malformed or inconsistent; the message names the field.
    #[error("invalid argument `{field}`: {message}")]
    InvalidArgument { field: String, message: String },
    /// The server's configuration forbids this (allow-lists, deny-lists, writes off).
    #[error("refused: {0}")]
    Denied(String),
    /// The target does not exist upstream.
    #[error("not found: {0}")]
    NotFound(String),
    /// The target changed under us or is in a state that forbids the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The upstream answered with an error status.
    #[error("{service} answered HTTP {status}: {message}")]
    Upstream {
        service: &'static str,
        status: u16,
        message: String,
    },
    /// The upstream rate-limited us; retrying before `retry_after_secs` is pointless.
    #[error("{service} rate limit reached; retry after {retry_after_secs} s")]
    RateLimited {
        service: &'static str,
        retry_after_secs: u64,
    },
    /// The upstream could not be reached at all.
    #[error(
        "{service} unreachable: {message}. Do not retry at once; check the server's connection settings"
    )]
    Unreachable {
        service: &'static str,
        message: String,
    },
}

/// The result type of every tool body.
pub type ToolResult<T> = Result<T, ToolError>;

impl ToolError {
    /// Shorthand for [`ToolError::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The error as an MCP tool result (`isError: true`), redacted.
    pub fn into_result(self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(redact(&self.to_string()))])
    }
}

impl From<ToolError> for CallToolResult {
    fn from(err: ToolError) -> Self {
        err.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_results_with_is_error_and_no_secrets() {
        let err = ToolError::Upstream {
            service: "kubernetes",
            status: 401,
            message: "token Bearer abc.def.ghi rejected".into(),
        };
        let result = err.into_result();
        assert_eq!(result.is_error, Some(true));
        let text = result.content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        assert!(text.contains("HTTP 401"), "{text}");
        assert!(!text.contains("abc.def.ghi"), "{text}");
    }

    #[test]
    fn invalid_argument_names_the_field() {
        let text = ToolError::invalid("namespace", "must not be empty").to_string();
        assert_eq!(text, "invalid argument `namespace`: must not be empty");
    }
}
