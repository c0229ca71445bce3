//! `/api/<method>`: parameters from the query string, a form or a JSON body; auth by bearer
//! token (or `token` parameter); every answer HTTP 200 `{"ok": ...}` except rate limits (429).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::model::{Message, Token, Workspace, ts_micros};
use super::{Posted, Slack, lock};

type Params = Map<String, Value>;

pub fn router(state: Arc<Slack>) -> Router {
    Router::new()
        .route("/api/{method}", any(call))
        .with_state(state)
}

fn fail(error: &str) -> Value {
    json!({"ok": false, "error": error})
}

/// The message `ts` of `channel`, or Slack's `message_not_found`.
fn message_mut<'a>(
    ws: &'a mut Workspace,
    channel: &str,
    ts: &str,
) -> Result<&'a mut Message, Value> {
    ws.messages
        .get_mut(channel)
        .and_then(|list| list.iter_mut().find(|m| m.ts == ts))
        .ok_or_else(|| fail("message_not_found"))
}

fn parse_params(headers: &HeaderMap, query: Option<String>, body: &Bytes) -> Params {
    let mut p = Params::new();
    let mut add_form = |text: &str| {
        for pair in text.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                let s = s.replace('+', " ");
                let bytes = s.as_bytes();
                let mut out = Vec::with_capacity(bytes.len());
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%'
                        && let Some(b) = s
                            .get(i + 1..i + 3)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    out.push(bytes[i]);
                    i += 1;
                }
                String::from_utf8_lossy(&out).into_owned()
            };
            p.insert(dec(k), Value::String(dec(v)));
        }
    };
    if let Some(q) = query {
        add_form(&q);
    }
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json_body {
        if let Ok(Value::Object(m)) = serde_json::from_slice(body) {
            p.extend(m);
        }
    } else if !body.is_empty() {
        add_form(&String::from_utf8_lossy(body));
    }
    p
}

fn s<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.get(k).and_then(Value::as_str).filter(|v| !v.is_empty())
}

fn num(p: &Params, k: &str) -> Option<usize> {
    p.get(k).and_then(|v| {
        v.as_u64()
            .map(|n| n as usize)
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

fn truthy(p: &Params, k: &str) -> bool {
    p.get(k)
        .is_some_and(|v| v == &json!(true) || v == "true" || v == "1")
}

/// Scopes each method needs (any one of the listed).
fn needed(method: &str) -> &'static [&'static str] {
    match method {
        "conversations.list" | "conversations.info" => &["channels:read", "groups:read"],
        "conversations.history" | "conversations.replies" => {
            &["channels:history", "groups:history"]
        }
        "chat.postMessage" | "chat.update" => &["chat:write"],
        "reactions.add" => &["reactions:write"],
        "users.list" | "users.info" => &["users:read"],
        "search.messages" => &["search:read"],
        _ => &[],
    }
}

fn cursor_encode(n: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{n}"))
}

fn cursor_decode(c: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::STANDARD.decode(c).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// `items[cursor..cursor+limit]` and the next cursor (`""` at the end), Slack style.
fn page(
    items: Vec<Value>,
    p: &Params,
    default_limit: usize,
) -> Result<(Vec<Value>, String), Value> {
    let start = match s(p, "cursor") {
        Some(c) => cursor_decode(c).ok_or_else(|| fail("invalid_cursor"))?,
        None => 0,
    };
    let limit = num(p, "limit").unwrap_or(default_limit).clamp(1, 1000);
    let end = (start + limit).min(items.len());
    let next = if end < items.len() {
        cursor_encode(end)
    } else {
        String::new()
    };
    Ok((items.into_iter().skip(start).take(limit).collect(), next))
}

async fn call(
    State(slack): State<Arc<Slack>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    lock(&slack.calls).push(method.clone());
    {
        let mut limits = lock(&slack.limits);
        if let Some(l) = limits.iter_mut().find(|l| l.0 == method && l.1 > 0) {
            l.1 -= 1;
            let mut resp =
                (StatusCode::TOO_MANY_REQUESTS, Json(fail("ratelimited"))).into_response();
            if let Ok(v) = HeaderValue::from_str(&l.2.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
    }
    let p = parse_params(&headers, query, &body);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| s(&p, "token").map(str::to_string));
    let mut ws = lock(&slack.workspace);
    let Some(token) = token else {
        return Json(fail("not_authed")).into_response();
    };
    let Some(tok) = ws.tokens.iter().find(|t| t.token == token).cloned() else {
        return Json(fail("invalid_auth")).into_response();
    };
    let need = needed(&method);
    if !need.is_empty() && !need.iter().any(|n| tok.scopes.iter().any(|s| s == n)) {
        return Json(json!({"ok": false, "error": "missing_scope", "needed": need.join(","), "provided": tok.scopes.join(",")}))
            .into_response();
    }
    let now = jiff::Timestamp::now().as_microsecond();
    let answer = match method.as_str() {
        "auth.test" => Ok(json!({"ok": true, "url": format!("https://{}.slack.com/", ws.team.domain), "team": ws.team.name,
            "user": ws.user(&tok.user).map(|u| u.name.clone()), "team_id": ws.team.id, "user_id": tok.user,
            "bot_id": if tok.kind == "bot" { json!(format!("B{}", &tok.user[1..])) } else { Value::Null }, "is_enterprise_install": false})),
        "conversations.list" => list_channels(&ws, &tok, &p),
        "conversations.info" => visible(&ws, &tok, s(&p, "channel")).map(|c| json!({"ok": true, "channel": channel_json(&ws, c, &tok)})),
        "conversations.history" => history(&ws, &tok, &p),
        "conversations.replies" => replies(&ws, &tok, &p),
        "chat.postMessage" => post(&mut ws, &slack, &tok, &p, now),
        "chat.update" => update(&mut ws, &slack, &tok, &p),
        "reactions.add" => react(&mut ws, &tok, &p),
        "users.list" => page(ws.users.iter().map(|u| user_json(u, &ws, &tok)).collect(), &p, 200)
            .map(|(members, next)| json!({"ok": true, "members": members, "response_metadata": {"next_cursor": next}})),
        "users.info" => match s(&p, "user").and_then(|id| ws.user(id)) {
            Some(u) => Ok(json!({"ok": true, "user": user_json(u, &ws, &tok)})),
            None => Err(fail("user_not_found")),
        },
        "users.lookupByEmail" => match s(&p, "email").and_then(|e| ws.users.iter().find(|u| u.email.as_deref() == Some(e))) {
            Some(u) => Ok(json!({"ok": true, "user": user_json(u, &ws, &tok)})),
            None => Err(fail("users_not_found")),
        },
        "search.messages" if tok.kind != "user" => Err(fail("not_allowed_token_type")),
        _ => Err(fail("unknown_method")),
    };
    Json(answer.unwrap_or_else(|e| e)).into_response()
}

fn user_json(u: &super::model::User, ws: &Workspace, tok: &Token) -> Value {
    let email = u
        .email
        .clone()
        .filter(|_| tok.scopes.iter().any(|s| s == "users:read.email"));
    json!({"id": u.id, "team_id": ws.team.id, "name": u.name, "deleted": false, "real_name": u.real_name,
           "is_bot": u.is_bot, "tz": "Europe/Berlin",
           "profile": {"real_name": u.real_name, "display_name": u.name, "email": email}})
}

fn channel_json(ws: &Workspace, c: &super::model::Channel, tok: &Token) -> Value {
    let created = 1_767_225_600;
    json!({"id": c.id, "name": c.name, "is_channel": !c.private, "is_group": false, "is_im": false,
           "is_private": c.private, "is_archived": false, "is_member": c.members.contains(&tok.user),
           "created": created, "creator": ws.users.first().map(|u| u.id.clone()),
           "num_members": c.members.len(),
           "topic": {"value": c.topic, "creator": "", "last_set": 0}, "purpose": {"value": "", "creator": "", "last_set": 0}})
}

/// The channel if the token may see it: members always; bots see public channels in listings
/// but must be invited to read or post.
fn visible<'a>(
    ws: &'a Workspace,
    tok: &Token,
    id: Option<&str>,
) -> Result<&'a super::model::Channel, Value> {
    let id = id.ok_or_else(|| fail("channel_not_found"))?;
    let c = ws.channel(id).ok_or_else(|| fail("channel_not_found"))?;
    if c.private && !c.members.contains(&tok.user) {
        return Err(fail("channel_not_found"));
    }
    Ok(c)
}

fn member<'a>(
    ws: &'a Workspace,
    tok: &Token,
    id: Option<&str>,
) -> Result<&'a super::model::Channel, Value> {
    let c = visible(ws, tok, id)?;
    if !c.members.contains(&tok.user) {
        return Err(fail("not_in_channel"));
    }
    Ok(c)
}

fn list_channels(ws: &Workspace, tok: &Token, p: &Params) -> Result<Value, Value> {
    let types = s(p, "types").unwrap_or("public_channel");
    let items: Vec<Value> = ws
        .channels
        .iter()
        .filter(|c| {
            if c.private {
                types.contains("private_channel") && c.members.contains(&tok.user)
            } else {
                types.contains("public_channel")
            }
        })
        .map(|c| channel_json(ws, c, tok))
        .collect();
    let (channels, next) = page(items, p, 100)?;
    Ok(json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": next}}))
}

fn message_json(ws: &Workspace, channel: &str, m: &Message) -> Value {
    let replies: Vec<&Message> = ws
        .messages
        .get(channel)
        .map(|all| {
            all.iter()
                .filter(|r| r.thread_ts.as_deref() == Some(m.ts.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut v =
        json!({"type": "message", "user": m.user, "text": m.text, "ts": m.ts, "team": ws.team.id});
    if let Some(t) = &m.thread_ts {
        v["thread_ts"] = json!(t);
    } else if !replies.is_empty() {
        v["thread_ts"] = json!(m.ts);
        v["reply_count"] = json!(replies.len());
        v["latest_reply"] = json!(replies.last().map(|r| r.ts.clone()));
    }
    if ws.user(&m.user).is_some_and(|u| u.is_bot) {
        v["bot_id"] = json!(format!("B{}", &m.user[1..]));
    }
    if let Some(b) = &m.blocks {
        v["blocks"] = b.clone();
    }
    if m.edited {
        v["edited"] = json!({"user": m.user, "ts": m.ts});
    }
    if !m.reactions.is_empty() {
        v["reactions"] = Value::Array(
            m.reactions
                .iter()
                .map(|(name, users)| json!({"name": name, "users": users, "count": users.len()}))
                .collect(),
        );
    }
    v
}

fn window(p: &Params) -> (i64, i64, bool) {
    let oldest = s(p, "oldest").and_then(ts_micros).unwrap_or(0);
    let latest = s(p, "latest").and_then(ts_micros).unwrap_or(i64::MAX);
    (oldest, latest, truthy(p, "inclusive"))
}

fn in_window(ts: &str, (oldest, latest, inclusive): (i64, i64, bool)) -> bool {
    let t = ts_micros(ts).unwrap_or(0);
    if inclusive {
        t >= oldest && t <= latest
    } else {
        t > oldest && t < latest
    }
}

fn history(ws: &Workspace, tok: &Token, p: &Params) -> Result<Value, Value> {
    let c = member(ws, tok, s(p, "channel"))?;
    let w = window(p);
    let mut items: Vec<Value> = ws
        .messages
        .get(&c.id)
        .map(|all| {
            all.iter()
                .filter(|m| m.thread_ts.is_none() && in_window(&m.ts, w))
                .map(|m| message_json(ws, &c.id, m))
                .collect()
        })
        .unwrap_or_default();
    items.reverse();
    let (messages, next) = page(items, p, 100)?;
    Ok(
        json!({"ok": true, "messages": messages, "has_more": !next.is_empty(), "pin_count": 0, "response_metadata": {"next_cursor": next}}),
    )
}

fn replies(ws: &Workspace, tok: &Token, p: &Params) -> Result<Value, Value> {
    let c = member(ws, tok, s(p, "channel"))?;
    let root = s(p, "ts").ok_or_else(|| fail("thread_not_found"))?;
    let all = ws.messages.get(&c.id).cloned().unwrap_or_default();
    let Some(parent) = all.iter().find(|m| m.ts == root) else {
        return Err(fail("thread_not_found"));
    };
    let w = window(p);
    let mut items = vec![message_json(ws, &c.id, parent)];
    items.extend(
        all.iter()
            .filter(|m| m.thread_ts.as_deref() == Some(root) && in_window(&m.ts, w))
            .map(|m| message_json(ws, &c.id, m)),
    );
    let (messages, next) = page(items, p, 100)?;
    Ok(
        json!({"ok": true, "messages": messages, "has_more": !next.is_empty(), "response_metadata": {"next_cursor": next}}),
    )
}

fn post(
    ws: &mut Workspace,
    slack: &Slack,
    tok: &Token,
    p: &Params,
    now: i64,
) -> Result<Value, Value> {
    let channel = member(ws, tok, s(p, "channel"))?.id.clone();
    let text = s(p, "text").unwrap_or("").to_string();
    let blocks = match p.get("blocks") {
        Some(Value::String(b)) => {
            Some(serde_json::from_str::<Value>(b).map_err(|_| fail("invalid_blocks"))?)
        }
        Some(b @ Value::Array(_)) => Some(b.clone()),
        _ => None,
    };
    if text.is_empty() && blocks.is_none() {
        return Err(fail("no_text"));
    }
    if text.chars().count() > 40_000 {
        return Err(fail("msg_too_long"));
    }
    let thread_ts = s(p, "thread_ts").map(str::to_string);
    if let Some(t) = &thread_ts
        && !ws
            .messages
            .get(&channel)
            .is_some_and(|all| all.iter().any(|m| m.ts == *t))
    {
        return Err(fail("thread_not_found"));
    }
    let ts = ws.next_ts(now);
    let m = Message {
        ts: ts.clone(),
        user: tok.user.clone(),
        text: text.clone(),
        thread_ts: thread_ts.clone(),
        reactions: BTreeMap::new(),
        blocks: blocks.clone(),
        edited: false,
    };
    let json_msg = message_json(ws, &channel, &m);
    ws.push(&channel, m);
    lock(&slack.posted).push(Posted {
        method: "chat.postMessage".into(),
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts,
        text,
        blocks,
    });
    Ok(json!({"ok": true, "channel": channel, "ts": ts, "message": json_msg}))
}

fn update(ws: &mut Workspace, slack: &Slack, tok: &Token, p: &Params) -> Result<Value, Value> {
    let channel = member(ws, tok, s(p, "channel"))?.id.clone();
    let ts = s(p, "ts")
        .ok_or_else(|| fail("message_not_found"))?
        .to_string();
    let text = s(p, "text").unwrap_or("").to_string();
    let blocks = match p.get("blocks") {
        Some(Value::String(b)) => serde_json::from_str::<Value>(b).ok(),
        Some(b @ Value::Array(_)) => Some(b.clone()),
        _ => None,
    };
    let m = message_mut(ws, &channel, &ts)?;
    if m.user != tok.user {
        return Err(fail("cant_update_message"));
    }
    if text.is_empty() && blocks.is_none() {
        return Err(fail("no_text"));
    }
    m.text = text.clone();
    m.blocks = blocks.clone();
    m.edited = true;
    let thread_ts = m.thread_ts.clone();
    lock(&slack.posted).push(Posted {
        method: "chat.update".into(),
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts,
        text: text.clone(),
        blocks,
    });
    Ok(json!({"ok": true, "channel": channel, "ts": ts, "text": text}))
}

fn react(ws: &mut Workspace, tok: &Token, p: &Params) -> Result<Value, Value> {
    let channel = member(ws, tok, s(p, "channel"))?.id.clone();
    let ts = s(p, "timestamp")
        .ok_or_else(|| fail("no_item_specified"))?
        .to_string();
    let name = s(p, "name")
        .ok_or_else(|| fail("invalid_name"))?
        .trim_matches(':')
        .to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
    {
        return Err(fail("invalid_name"));
    }
    let m = message_mut(ws, &channel, &ts)?;
    let users = m.reactions.entry(name).or_default();
    if users.contains(&tok.user) {
        return Err(fail("already_reacted"));
    }
    users.push(tok.user.clone());
    Ok(json!({"ok": true}))
}
