//! A scripted OpenAI-compatible model: `POST /v1/chat/completions` (streamed and not) answers
//! from a script of rules. Each request is matched against the rules in order (turn number,
//! last message role, text anywhere or in the last message, whether tools were offered); the
//! first live rule answers with tool calls, content, a refusal, malformed tool-call JSON, an
//! HTTP error (429 with `Retry-After`, 500) or a delay. Every request is recorded. Like a real
//! server it honours the completion cap (`max_completion_tokens`, or `max_tokens`): a reply
//! longer than the cap is cut there, with `finish_reason: length`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::github::lock;

/// When a rule applies (all given conditions must hold).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// 1-based number of this request.
    #[serde(default)]
    pub turn: Option<usize>,
    /// Role of the last message: user, tool, assistant, system.
    #[serde(default)]
    pub last_role: Option<String>,
    /// Text somewhere in the conversation.
    #[serde(default)]
    pub contains: Option<String>,
    /// Text in the last message.
    #[serde(default)]
    pub last_contains: Option<String>,
    /// Whether the request offers tools.
    #[serde(default)]
    pub tools_offered: Option<bool>,
}

/// A tool call to answer with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub name: String,
    /// Arguments object (sent as JSON text).
    #[serde(default)]
    pub arguments: Value,
    /// Raw argument text instead (e.g. malformed JSON).
    #[serde(default)]
    pub raw_arguments: Option<String>,
}

/// What to answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<Call>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// HTTP status to fail with.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Sleep this long before answering.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// The error message with `status` (default `scripted <status>`).
    #[serde(default)]
    pub error_message: Option<String>,
    /// Answer without `usage` (as some servers, and streams without `include_usage`, do).
    #[serde(default)]
    pub omit_usage: bool,
}

/// One rule of a script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub when: When,
    pub reply: Reply,
    /// How many requests this rule answers (default: unlimited).
    #[serde(default)]
    pub times: Option<u32>,
}

/// A script file: `rules: [...]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub rules: Vec<Rule>,
}

impl Script {
    /// Loads a YAML script.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Shared state of the scripted model.
pub struct ScriptedModel {
    rules: Mutex<Vec<(Rule, Option<u32>)>>,
    requests: Mutex<Vec<Value>>,
}

impl ScriptedModel {
    /// A model answering from `script`.
    pub fn new(script: Script) -> Self {
        Self {
            rules: Mutex::new(
                script
                    .rules
                    .into_iter()
                    .map(|r| {
                        let t = r.times;
                        (r, t)
                    })
                    .collect(),
            ),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Replaces the script (for scenarios whose answers depend on ids known only later).
    pub fn set_script(&self, script: Script) {
        *crate::github::lock(&self.rules) = script
            .rules
            .into_iter()
            .map(|r| {
                let t = r.times;
                (r, t)
            })
            .collect();
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.requests).clone()
    }

    fn answer(&self, req: &Value, turn: usize) -> Option<Reply> {
        let messages = req["messages"].as_array().cloned().unwrap_or_default();
        let text = |m: &Value| match &m["content"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let last = messages.last().cloned().unwrap_or(Value::Null);
        let all: String = messages.iter().map(text).collect::<Vec<_>>().join("\n");
        let offered =
            req["tools"].as_array().is_some_and(|t| !t.is_empty()) && req["tool_choice"] != "none";
        let mut rules = lock(&self.rules);
        for (rule, left) in rules.iter_mut() {
            let w = &rule.when;
            let ok = w.turn.is_none_or(|t| t == turn)
                && w.last_role
                    .as_ref()
                    .is_none_or(|r| last["role"] == r.as_str())
                && w.contains.as_ref().is_none_or(|c| all.contains(c.as_str()))
                && w.last_contains
                    .as_ref()
                    .is_none_or(|c| text(&last).contains(c.as_str()))
                && w.tools_offered.is_none_or(|o| o == offered)
                && left.is_none_or(|n| n > 0);
            if ok {
                if let Some(n) = left {
                    *n -= 1;
                }
                return Some(rule.reply.clone());
            }
        }
        None
    }
}

/// Usage as a server reports it: the prompt estimated at four bytes a token, the completion
/// as the generated text (content and tool-call arguments), never more than the cap.
fn usage(req: &Value, msg: &Value) -> Value {
    let prompt = (req["messages"].to_string().len() + req["tools"].to_string().len()) / 4;
    let mut generated = msg["content"].as_str().unwrap_or_default().chars().count();
    for c in msg["tool_calls"].as_array().into_iter().flatten() {
        generated += c["function"]["name"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .count();
        generated += c["function"]["arguments"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .count();
    }
    let completion = (generated.div_ceil(4) + 1).min(completion_cap(req).unwrap_or(usize::MAX));
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// The request's completion cap in tokens: `max_completion_tokens`, else `max_tokens`.
fn completion_cap(req: &Value) -> Option<usize> {
    req["max_completion_tokens"]
        .as_u64()
        .or_else(|| req["max_tokens"].as_u64())
        .and_then(|n| usize::try_from(n).ok())
}

/// Cuts `msg` to `cap` tokens (four characters each, the estimate `usage` also uses): the
/// content first, then the tool calls' arguments in order. Returns whether anything was cut.
fn truncate(msg: &mut Value, cap: usize) -> bool {
    let mut budget = cap.saturating_mul(4);
    let mut cut = false;
    let mut take = |text: &str| -> String {
        let n = text.chars().count();
        if n <= budget {
            budget -= n;
            return text.to_string();
        }
        cut = true;
        let kept: String = text.chars().take(budget).collect();
        budget = 0;
        kept
    };
    if let Some(c) = msg["content"].as_str().map(str::to_string) {
        msg["content"] = json!(take(&c));
    }
    if let Some(calls) = msg["tool_calls"].as_array_mut() {
        for call in calls.iter_mut() {
            let args = call["function"]["arguments"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            call["function"]["arguments"] = json!(take(&args));
        }
    }
    cut
}

fn message(reply: &Reply, turn: usize) -> Value {
    let calls: Vec<Value> = reply
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"id": format!("call_{turn}_{i}"), "type": "function", "function": {
                "name": c.name,
                "arguments": c.raw_arguments.clone().unwrap_or_else(|| if c.arguments.is_null() { "{}".into() } else { c.arguments.to_string() }),
            }})
        })
        .collect();
    let mut m = json!({"role": "assistant", "content": reply.content});
    if !calls.is_empty() {
        m["tool_calls"] = Value::Array(calls);
    }
    if let Some(r) = &reply.refusal {
        m["refusal"] = json!(r);
    }
    m
}

async fn completions(State(model): State<Arc<ScriptedModel>>, Json(req): Json<Value>) -> Response {
    let turn = {
        let mut r = lock(&model.requests);
        r.push(req.clone());
        r.len()
    };
    let Some(reply) = model.answer(&req, turn) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": {"message": format!("no script rule matches request {turn}"), "type": "server_error", "param": null, "code": null}}))).into_response();
    };
    if let Some(ms) = reply.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(status) = reply.status {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = if status == 429 {
            "rate_limit_error"
        } else {
            "server_error"
        };
        let message = reply
            .error_message
            .clone()
            .unwrap_or_else(|| format!("scripted {status}"));
        let mut resp = (
            code,
            Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
        )
            .into_response();
        if let Some(secs) = reply.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let mut msg = message(&reply, turn);
    let mut finish = if reply.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    if let Some(cap) = completion_cap(&req)
        && truncate(&mut msg, cap)
    {
        finish = "length";
    }
    let model_name = req["model"].as_str().unwrap_or("scripted").to_string();
    let usage = if reply.omit_usage {
        Value::Null
    } else {
        usage(&req, &msg)
    };
    if req["stream"] == true {
        let id = format!("chatcmpl-{turn}");
        let mut events = vec![
            json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model_name,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
        ];
        if let Some(c) = msg["content"].as_str() {
            let mid = c
                .char_indices()
                .nth(c.chars().count() / 2)
                .map(|(i, _)| i)
                .unwrap_or(0);
            for part in [&c[..mid], &c[mid..]] {
                events.push(json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model_name,
                    "choices": [{"index": 0, "delta": {"content": part}, "finish_reason": null}]}));
            }
        }
        for (i, call) in msg["tool_calls"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let args = call["function"]["arguments"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let mid = args
                .char_indices()
                .nth(args.chars().count() / 2)
                .map(|(i, _)| i)
                .unwrap_or(0);
            events.push(json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model_name,
                "choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": &args[..mid]}}]}, "finish_reason": null}]}));
            events.push(json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model_name,
                "choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "function": {"arguments": &args[mid..]}}]}, "finish_reason": null}]}));
        }
        events.push(
            json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model_name,
            "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}),
        );
        if req["stream_options"]["include_usage"] == true && !usage.is_null() {
            events.push(json!({"id": id, "object": "chat.completion.chunk", "created": 0, "model": model_name, "choices": [], "usage": usage}));
        }
        let mut stream: Vec<Result<Event, Infallible>> = events
            .into_iter()
            .map(|e| Ok(Event::default().data(e.to_string())))
            .collect();
        stream.push(Ok(Event::default().data("[DONE]")));
        return Sse::new(futures::stream::iter(stream)).into_response();
    }
    let mut body = json!({"id": format!("chatcmpl-{turn}"), "object": "chat.completion", "created": 0, "model": model_name,
        "choices": [{"index": 0, "message": msg, "finish_reason": finish, "logprobs": null}]});
    if !usage.is_null() {
        body["usage"] = usage;
    }
    Json(body).into_response()
}

/// A running scripted model.
pub struct ModelServer {
    pub addr: SocketAddr,
    pub state: Arc<ScriptedModel>,
    /// Fault switches in front of the emulator (see [`crate::faults`]).
    pub faults: Arc<crate::faults::Faults>,
}

impl ModelServer {
    /// Base URL for `OPENAI_BASE_URL` (`.../v1`).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// Serves `script` on a free loopback port.
pub async fn spawn(script: Script) -> std::io::Result<ModelServer> {
    let state = Arc::new(ScriptedModel::new(script));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(|| async { Json(json!({"object": "list", "data": [{"id": "scripted", "object": "model", "created": 0, "owned_by": "sandbox"}]})) }))
        .with_state(state.clone());
    let faults = Arc::default();
    let app = crate::faults::layer(app, &faults);
    crate::serve_in_background(listener, app, "model");
    Ok(ModelServer {
        addr,
        state,
        faults,
    })
}
