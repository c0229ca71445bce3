//! The emulated workspace: team, users, channels with members and messages (threads included),
//! and the tokens that may call it with their scopes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// A user or bot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub email: Option<String>,
}

/// A channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub private: bool,
    pub members: Vec<String>,
    #[serde(default)]
    pub topic: String,
}

/// A message; `thread_ts` set on replies.
#[derive(Debug, Clone)]
pub struct Message {
    pub ts: String,
    pub user: String,
    pub text: String,
    pub thread_ts: Option<String>,
    pub reactions: BTreeMap<String, Vec<String>>,
    pub blocks: Option<serde_json::Value>,
    pub edited: bool,
}

/// A token and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub token: String,
    /// `bot` or `user`
    pub kind: String,
    pub user: String,
    pub scopes: Vec<String>,
}

/// The team.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub domain: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedMessage {
    channel: String,
    user: String,
    text: String,
    at: String,
    #[serde(default)]
    replies: Vec<SeedReply>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedReply {
    user: String,
    text: String,
    at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    team: Team,
    users: Vec<User>,
    channels: Vec<Channel>,
    #[serde(default)]
    messages: Vec<SeedMessage>,
    tokens: Vec<Token>,
}

/// The whole workspace.
#[derive(Debug)]
pub struct Workspace {
    pub team: Team,
    pub users: Vec<User>,
    pub channels: Vec<Channel>,
    /// channel id → messages (top-level and replies), oldest first
    pub messages: BTreeMap<String, Vec<Message>>,
    pub tokens: Vec<Token>,
    last_ts: i64,
}

/// A workspace file that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("Slack workspace {path}: {message}")]
pub struct WorkspaceError {
    pub path: String,
    pub message: String,
}

/// `secs.micros` as Slack prints message timestamps.
pub fn ts(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// Epoch microseconds of a Slack timestamp.
pub fn ts_micros(ts: &str) -> Option<i64> {
    let (s, f) = ts.split_once('.').unwrap_or((ts, "0"));
    let f = format!("{f:0<6}");
    Some(s.parse::<i64>().ok()? * 1_000_000 + f.get(..6)?.parse::<i64>().ok()?)
}

impl Workspace {
    /// Loads a workspace file; relative times count back from `now` (epoch seconds).
    pub fn load(path: &Path, now: i64) -> Result<Self, WorkspaceError> {
        let err = |message: String| WorkspaceError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let seed: Seed = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        let mut ws = Self {
            team: seed.team,
            users: seed.users,
            channels: seed.channels,
            messages: BTreeMap::new(),
            tokens: seed.tokens,
            last_ts: 0,
        };
        let time = |at: &str| {
            crate::github::seed::parse_time(at, now)
                .map(|s| s * 1_000_000)
                .map_err(&err)
        };
        for (i, m) in seed.messages.into_iter().enumerate() {
            if ws.channel(&m.channel).is_none() {
                return Err(err(format!("message {i}: no channel {}", m.channel)));
            }
            let root = ts(time(&m.at)? + i as i64);
            ws.push(
                &m.channel,
                Message {
                    ts: root.clone(),
                    user: m.user,
                    text: m.text,
                    thread_ts: None,
                    reactions: BTreeMap::new(),
                    blocks: None,
                    edited: false,
                },
            );
            for (j, r) in m.replies.into_iter().enumerate() {
                ws.push(
                    &m.channel,
                    Message {
                        ts: ts(time(&r.at)? + j as i64),
                        user: r.user,
                        text: r.text,
                        thread_ts: Some(root.clone()),
                        reactions: BTreeMap::new(),
                        blocks: None,
                        edited: false,
                    },
                );
            }
        }
        Ok(ws)
    }

    /// A channel by id.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Adds a message, keeping the channel in time order.
    pub fn push(&mut self, channel: &str, m: Message) {
        let list = self.messages.entry(channel.to_string()).or_default();
        list.push(m);
        list.sort_by_key(|m| ts_micros(&m.ts).unwrap_or(0));
    }

    /// A fresh, strictly increasing timestamp at `now_micros`.
    pub fn next_ts(&mut self, now_micros: i64) -> String {
        self.last_ts = now_micros.max(self.last_ts + 1);
        ts(self.last_ts)
    }
}
