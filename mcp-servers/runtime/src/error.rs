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
    /// The upstream answered, but the body could not be read (cut off on the way, or not
    /// the JSON it always sends): a passing fault, not a fact about the target.
    #[error("{service} sent an answer that could not be read ({message}); retry later")]
    Garbled {
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

    /// Whether retrying later may succeed: rate limits, an unreachable upstream, and the
    /// statuses that mean "not now" (408, 429, 5xx). A client that acts on the outcome (the
    /// approval flow) waits and retries instead of deciding on what is missing.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unreachable { .. } | Self::Garbled { .. } => true,
            Self::Upstream { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// A short machine-readable name of the variant.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::Denied(_) => "denied",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Upstream { .. } => "upstream",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unreachable { .. } => "unreachable",
            Self::Garbled { .. } => "garbled",
        }
    }

    /// The error as an MCP tool result (`isError: true`), redacted: the sentence for people
    /// and models, and `structuredContent.error` (`kind`, `transient`, `retry_after_secs`) for
    /// programs.
    pub fn into_result(self) -> CallToolResult {
        let mut result = CallToolResult::error(vec![ContentBlock::text(redact(&self.to_string()))]);
        let mut error = serde_json::json!({"kind": self.kind(), "transient": self.is_transient()});
        if let Self::RateLimited {
            retry_after_secs, ..
        } = self
        {
            error["retry_after_secs"] = serde_json::json!(retry_after_secs);
        }
        result.structured_content = Some(serde_json::json!({ "error": error }));
        result
    }
}

/// A success body that failed to parse: garbled (not JSON at all, or cut off: a passing
/// fault) or of an unexpected shape (valid JSON the client does not understand: not one).
pub fn parse_failure(
    service: &'static str,
    status: u16,
    what: &str,
    e: &serde_json::Error,
) -> ToolError {
    match e.classify() {
        serde_json::error::Category::Data => ToolError::Upstream {
            service,
            status,
            message: format!("unexpected response shape from {what}: {e}"),
        },
        _ => ToolError::Garbled {
            service,
            message: format!("{what}: {e}"),
        },
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
