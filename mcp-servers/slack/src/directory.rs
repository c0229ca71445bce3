//! Lazily filled, expiring caches of users and channels: nothing is fetched at start-up (a
//! large workspace must not delay `initialize`), names are looked up on first use.

use mcp_runtime::sync::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mcp_runtime::ToolError;
use serde_json::Value;

use crate::client::SlackApi;

const TTL: Duration = Duration::from_secs(600);

/// A channel as the tools show it.
#[derive(Debug, Clone)]
pub struct ChannelInfo {
    pub id: String,
    pub name: String,
    pub private: bool,
    pub member: bool,
    pub members: u64,
    pub topic: String,
}

/// The caches.
#[derive(Default)]
pub struct Directory {
    /// `SLACK_TEAM_ID`: the workspace the token must belong to.
    team: Option<String>,
    users: Mutex<HashMap<String, (Instant, String)>>,
    channels: Mutex<Option<(Instant, Vec<ChannelInfo>)>>,
    identity: Mutex<Option<(String, String)>>,
}

impl Directory {
    /// Empty caches; `team` is the workspace id the token must belong to.
    pub fn new(team: Option<String>) -> Self {
        Self {
            team,
            ..Self::default()
        }
    }

    /// The display name of a user id (cached).
    pub async fn user_name(&self, api: &SlackApi, id: &str) -> String {
        if id.is_empty() {
            return "-".into();
        }
        if let Some((at, name)) = lock(&self.users).get(id)
            && at.elapsed() < TTL
        {
            return name.clone();
        }
        // A failed lookup shows the id: a history listing must not fail over one name.
        match api.call("users.info", &[("user", id.to_string())]).await {
            Ok(v) => {
                let name = v["user"]["name"].as_str().unwrap_or(id).to_string();
                lock(&self.users).insert(id.to_string(), (Instant::now(), name.clone()));
                name
            }
            Err(_) => id.to_string(),
        }
    }

    /// Every channel the token can list (cached).
    pub async fn channels(&self, api: &SlackApi) -> Result<Vec<ChannelInfo>, ToolError> {
        if let Some((at, list)) = lock(&self.channels).as_ref()
            && at.elapsed() < TTL
        {
            return Ok(list.clone());
        }
        let mut out = Vec::new();
        let mut cursor = String::new();
        for _ in 0..100 {
            let v = api
                .call(
                    "conversations.list",
                    &[
                        ("types", "public_channel,private_channel".into()),
                        ("exclude_archived", "true".into()),
                        ("limit", "200".into()),
                        ("cursor", cursor.clone()),
                    ],
                )
                .await?;
            for c in v["channels"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                out.push(ChannelInfo {
                    id: c["id"].as_str().unwrap_or_default().to_string(),
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                    private: c["is_private"] == Value::Bool(true),
                    member: c["is_member"] == Value::Bool(true),
                    members: c["num_members"].as_u64().unwrap_or(0),
                    topic: c["topic"]["value"].as_str().unwrap_or_default().to_string(),
                });
            }
            cursor = v["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if cursor.is_empty() {
                break;
            }
        }
        *lock(&self.channels) = Some((Instant::now(), out.clone()));
        Ok(out)
    }

    /// The workspace URL and the token's own user id, from `auth.test` (cached).
    pub async fn identity(&self, api: &SlackApi) -> Result<(String, String), ToolError> {
        if let Some(v) = lock(&self.identity).clone() {
            return Ok(v);
        }
        let v = api.call("auth.test", &[]).await?;
        if let Some(team) = &self.team
            && v["team_id"].as_str() != Some(team.as_str())
        {
            return Err(ToolError::Denied(format!(
                "the token belongs to workspace {}, not SLACK_TEAM_ID {team}",
                v["team_id"].as_str().unwrap_or("?")
            )));
        }
        let pair = (
            v["url"]
                .as_str()
                .unwrap_or("https://slack.com/")
                .to_string(),
            v["user_id"].as_str().unwrap_or_default().to_string(),
        );
        *lock(&self.identity) = Some(pair.clone());
        Ok(pair)
    }
}

/// The permalink of a message, built as Slack builds them (`/archives/<channel>/p<ts digits>`).
pub fn permalink(workspace_url: &str, channel: &str, ts: &str) -> String {
    format!("{workspace_url}archives/{channel}/p{}", ts.replace('.', ""))
}
