//! The Slack Web API client: `POST <base><method>` with a bearer token and a form body; Slack's
//! `{"ok": false, "error": ...}` answers become tool errors that say what to do.

use std::time::Duration;

use mcp_runtime::ToolError;
use serde_json::Value;

const SERVICE: &str = "slack";

/// A client for one token.
pub struct SlackApi {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
#[error("configuring the Slack client: {0}")]
pub struct ClientError(pub String);

/// What a Slack error code means for the caller.
pub fn explain(error: &str, needed: Option<&str>, method: &str) -> ToolError {
    let msg = |m: &str| format!("{method}: {error}: {m}");
    match error {
        "not_authed" | "invalid_auth" | "token_revoked" | "token_expired" | "account_inactive" => {
            ToolError::Upstream {
                service: SERVICE,
                status: 401,
                message: msg(
                    "the token is missing, wrong or revoked (SLACK_BOT_TOKEN / SLACK_MCP_XOXP_TOKEN)",
                ),
            }
        }
        "missing_scope" => ToolError::Denied(msg(&format!(
            "the token lacks the `{}` scope; add it to the Slack app and reinstall",
            needed.unwrap_or("required")
        ))),
        "not_in_channel" => ToolError::Denied(msg(
            "the bot is not a member of this channel; invite it with /invite",
        )),
        "channel_not_found" => ToolError::NotFound(msg(
            "no such channel, or a private channel the token is not in",
        )),
        "thread_not_found" | "message_not_found" => {
            ToolError::NotFound(msg("check the channel and the message ts"))
        }
        "user_not_found" | "users_not_found" => ToolError::NotFound(msg("no such user")),
        "cant_update_message" => {
            ToolError::Denied(msg("only messages this bot posted can be updated"))
        }
        "already_reacted" => ToolError::Conflict(msg("the reaction is already there")),
        "invalid_name" => {
            ToolError::invalid("name", msg("not an emoji name, e.g. white_check_mark"))
        }
        "no_text" => ToolError::invalid("text", msg("the message is empty")),
        "msg_too_long" => ToolError::invalid("text", msg("longer than Slack's 40,000 characters")),
        "invalid_cursor" => {
            ToolError::invalid("cursor", msg("pass the cursor a previous page returned"))
        }
        "is_archived" => ToolError::Conflict(msg("the channel is archived")),
        "not_allowed_token_type" => {
            ToolError::Denied(msg("this method needs a user token (SLACK_MCP_XOXP_TOKEN)"))
        }
        _ => ToolError::Upstream {
            service: SERVICE,
            status: 200,
            message: msg("Slack refused the call"),
        },
    }
}

impl SlackApi {
    /// A client; no request is made here.
    pub fn new(base: &str, token: String) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("mcp-slack/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        Ok(Self { http, base, token })
    }

    /// Calls `method` with form parameters (empty values are left out).
    pub async fn call(&self, method: &str, params: &[(&str, String)]) -> Result<Value, ToolError> {
        let form: Vec<(&str, &str)> = params
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let resp = self
            .http
            .post(format!("{}{method}", self.base))
            .bearer_auth(&self.token)
            .form(&form)
            .send()
            .await
            .map_err(|e| ToolError::Unreachable {
                service: SERVICE,
                message: e.to_string(),
            })?;
        if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let secs = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(30);
            return Err(ToolError::RateLimited {
                service: SERVICE,
                retry_after_secs: secs,
            });
        }
        let status = resp.status();
        let text = resp.text().await.map_err(|e| ToolError::Unreachable {
            service: SERVICE,
            message: format!("{method}: reading the response: {e}"),
        })?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| mcp_runtime::error::parse_failure(SERVICE, status.as_u16(), method, &e))?;
        if v["ok"] == Value::Bool(true) {
            return Ok(v);
        }
        Err(explain(
            v["error"].as_str().unwrap_or("unknown_error"),
            v["needed"].as_str(),
            method,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scope_names_the_scope() {
        let e = explain("missing_scope", Some("reactions:write"), "reactions.add");
        assert!(e.to_string().contains("`reactions:write` scope"), "{e}");
        assert!(matches!(
            explain("not_in_channel", None, "chat.postMessage"),
            ToolError::Denied(_)
        ));
    }
}
