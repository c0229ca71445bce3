//! One run: messages to the model, tool calls to the toolbox, until a valid typed answer or a
//! budget ends it. Budgets: steps, tokens, wall clock. The last step offers only the answer.
//! Tool calls of one turn run concurrently; identical calls are answered from the run's memo;
//! an oversized result is replaced by a "narrow your query" error (the full result stays in the
//! record). An invalid answer gets one repair turn; then the run ends without a decision.
//! Every request carries the flow's completion cap; a reply cut off by it (`finish_reason:
//! length`) is never parsed or acted on: it gets the repair turn, then ends the run with its own
//! reason. Usage the provider did not report is estimated and the record says so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_openai::types::chat::{CreateChatCompletionRequest, FinishReason};
use serde::Serialize;
use serde_json::{Value, json};

use super::answer::{self, SUBMIT};
use crate::mcp::{ToolOutcome, Toolbox};
use crate::model::{Completion, Model};

/// What a run is asked to do, and its budgets.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub flow: String,
    pub system: String,
    pub user: String,
    /// JSON Schema of the final answer.
    pub answer_schema: Value,
    /// Ask for the answer with `response_format: json_schema` (else through `submit_answer`).
    pub structured_output: bool,
    pub max_steps: u32,
    pub max_tokens: u64,
    /// Cap on each completion, sent as `max_completion_tokens` (or `max_tokens`).
    pub max_completion_tokens: u32,
    pub deadline: Duration,
    /// Largest tool result passed to the model, in bytes.
    pub result_cap: usize,
    pub temperature: Option<f32>,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A schema-valid answer.
    Answer { value: Value },
    /// No usable answer (budget, invalid output, a refusal): callers fail closed.
    NoDecision { reason: String },
    /// The provider failed in a way that passes (rate limit, quota, unreachable, 5xx, no
    /// answer within the deadline): nothing was decided, and callers retry later.
    Unavailable { reason: String },
}

/// One tool call, with its full result.
#[derive(Debug, Clone, Serialize)]
pub struct ToolCallRecord {
    pub step: u32,
    pub name: String,
    pub arguments: Value,
    pub result: String,
    pub is_error: bool,
    pub from_memo: bool,
    pub capped: bool,
    pub millis: u64,
}

/// Everything about a run, for the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub flow: String,
    pub started: String,
    pub outcome: Outcome,
    pub steps: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// `reported` when every token figure above came from the provider; `estimated` when some
    /// are estimates (usage not reported, or a call cancelled before it answered).
    pub usage: UsageSource,
    pub model_micros: u64,
    pub tool_micros: u64,
    pub total_micros: u64,
    pub messages: Vec<Value>,
    pub tool_calls: Vec<ToolCallRecord>,
    pub tools_offered: Vec<String>,
    pub schema_bytes: usize,
}

/// Where a run's token figures come from.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    #[default]
    Reported,
    Estimated,
}

impl UsageSource {
    /// `N` for a reported figure, `~N (estimated)` for an estimate.
    pub fn show(self, tokens: u64) -> String {
        match self {
            UsageSource::Reported => tokens.to_string(),
            UsageSource::Estimated => format!("~{tokens} (estimated)"),
        }
    }
}

/// Estimated tokens of the messages of a request.
fn prompt_estimate(messages: &[Value]) -> u64 {
    messages
        .iter()
        .map(|m| {
            super::usage::estimate_tokens(m["content"].as_str().unwrap_or_default())
                + super::usage::estimate_tokens(&m["tool_calls"].to_string())
                + 4
        })
        .sum()
}

/// Model-facing function names allow only `[A-Za-z0-9_-]`: `server.tool` travels as `server__tool`.
pub fn wire_name(name: &str) -> String {
    name.replacen('.', "__", 1)
}

fn from_wire(name: &str) -> String {
    name.replacen("__", ".", 1)
}

struct Call {
    id: String,
    name: String,
    raw_args: String,
}

fn calls_of(message: &Value) -> Vec<Call> {
    message["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| Call {
                    id: c["id"].as_str().unwrap_or("").to_string(),
                    name: c["function"]["name"].as_str().unwrap_or("").to_string(),
                    raw_args: c["function"]["arguments"]
                        .as_str()
                        .unwrap_or("{}")
                        .to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `message` with every secret in it redacted.
fn redacted(mut message: Value) -> Value {
    mcp_runtime::redact::redact_json(&mut message);
    message
}

/// Runs `spec` with `model` and `tools`.
pub async fn run<M: Model, T: Toolbox>(model: &M, tools: &T, spec: &RunSpec) -> RunRecord {
    let started = Instant::now();
    let specs = tools.list().await;
    let mut offered: Vec<Value> = specs
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": wire_name(&t.name), "description": t.description, "parameters": t.schema}}))
        .collect();
    let submit = answer::submit_tool(&spec.answer_schema);
    if !spec.structured_output {
        offered.push(submit.clone());
    }
    let mut rec = RunRecord {
        flow: spec.flow.clone(),
        started: jiff::Timestamp::now().to_string(),
        outcome: Outcome::NoDecision {
            reason: "not started".into(),
        },
        steps: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        usage: UsageSource::Reported,
        model_micros: 0,
        tool_micros: 0,
        total_micros: 0,
        // Nothing reaches a model with a secret in it, whichever source wrote the prompt, a
        // tool result or a reply: each message is redacted once, when it joins the history.
        messages: vec![
            redacted(json!({"role": "system", "content": spec.system})),
            redacted(json!({"role": "user", "content": spec.user})),
        ],
        tool_calls: Vec::new(),
        tools_offered: specs.iter().map(|t| t.name.clone()).collect(),
        schema_bytes: Value::Array(offered.clone()).to_string().len(),
    };
    let mut memo: HashMap<(String, String), ToolOutcome> = HashMap::new();
    let mut repaired = false;
    let end = |mut rec: RunRecord, outcome: Outcome| {
        rec.outcome = outcome;
        rec.total_micros = started.elapsed().as_micros() as u64;
        rec
    };
    for step in 1..=spec.max_steps {
        rec.steps = step;
        if started.elapsed() >= spec.deadline {
            return end(
                rec,
                Outcome::NoDecision {
                    reason: format!("deadline of {:?} reached", spec.deadline),
                },
            );
        }
        if rec.prompt_tokens + rec.completion_tokens >= spec.max_tokens {
            return end(
                rec,
                Outcome::NoDecision {
                    reason: format!("token budget of {} spent", spec.max_tokens),
                },
            );
        }
        // The last step (and a repair turn) offers only the answer.
        let answer_only = step == spec.max_steps || repaired;
        let mut req = json!({"model": "", "messages": rec.messages,
            "max_completion_tokens": spec.max_completion_tokens});
        if let Some(t) = spec.temperature {
            req["temperature"] = json!(t);
        }
        match (answer_only, spec.structured_output) {
            (false, _) => req["tools"] = Value::Array(offered.clone()),
            (true, false) => {
                req["tools"] = json!([submit]);
                req["tool_choice"] = json!({"type": "function", "function": {"name": SUBMIT}});
            }
            (true, true) => {}
        }
        if spec.structured_output {
            req["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": spec.answer_schema, "strict": false}});
        }
        let request: CreateChatCompletionRequest = match serde_json::from_value(req) {
            Ok(r) => r,
            Err(e) => {
                return end(
                    rec,
                    Outcome::NoDecision {
                        reason: format!("building the request: {e}"),
                    },
                );
            }
        };
        let remaining = spec.deadline.saturating_sub(started.elapsed());
        let t0 = Instant::now();
        let reply: Completion = match tokio::time::timeout(remaining, model.complete(request)).await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let reason = format!("model: {e}");
                let outcome = if e.is_transient() {
                    Outcome::Unavailable { reason }
                } else {
                    Outcome::NoDecision { reason }
                };
                return end(rec, outcome);
            }
            Err(_) => {
                // Cancelled: the provider read the prompt, and what it generated is unknown.
                rec.model_micros += t0.elapsed().as_micros() as u64;
                rec.prompt_tokens += prompt_estimate(&rec.messages);
                rec.usage = UsageSource::Estimated;
                return end(
                    rec,
                    Outcome::Unavailable {
                        reason: format!(
                            "deadline of {:?} reached waiting for the model",
                            spec.deadline
                        ),
                    },
                );
            }
        };
        rec.model_micros += t0.elapsed().as_micros() as u64;
        let message = serde_json::to_value(&reply.message).unwrap_or(Value::Null);
        if reply.usage_reported {
            rec.prompt_tokens += reply.prompt_tokens;
            rec.completion_tokens += reply.completion_tokens;
        } else {
            rec.prompt_tokens += prompt_estimate(&rec.messages);
            rec.completion_tokens += prompt_estimate(std::slice::from_ref(&message));
            rec.usage = UsageSource::Estimated;
        }
        if reply.finish_reason == Some(FinishReason::Length) {
            // Cut off by the cap: its text and tool calls are incomplete, so nothing of it is
            // parsed or run. The turn is kept as text only (a tool call without its result
            // would make the next request invalid).
            rec.messages.push(redacted(
                json!({"role": "assistant", "content": message["content"]}),
            ));
            let cut = format!(
                "the answer was cut off at the completion cap of {} tokens (finish_reason: length)",
                spec.max_completion_tokens
            );
            if repaired {
                return end(rec, Outcome::NoDecision { reason: cut });
            }
            repaired = true;
            rec.messages.push(json!({"role": "user", "content": format!(
                "Your answer was cut off at the limit of {} tokens. Answer again, much shorter: only the final answer, matching the schema.",
                spec.max_completion_tokens
            )}));
            continue;
        }
        let mut assistant = json!({"role": "assistant", "content": message["content"]});
        if message["tool_calls"].is_array() {
            assistant["tool_calls"] = message["tool_calls"].clone();
        }
        rec.messages.push(redacted(assistant));
        let calls = calls_of(&message);

        // A final answer: through submit_answer, or as content when no tools were called.
        let candidate = calls
            .iter()
            .find(|c| c.name == SUBMIT)
            .map(|c| (Some(c.id.clone()), c.raw_args.clone()))
            .or_else(|| {
                calls
                    .is_empty()
                    .then(|| (None, message["content"].as_str().unwrap_or("").to_string()))
            });
        if let Some((call_id, text)) = candidate {
            if let Some(r) = message["refusal"].as_str() {
                return end(
                    rec,
                    Outcome::NoDecision {
                        reason: format!(
                            "the model refused: {}",
                            r.chars().take(200).collect::<String>()
                        ),
                    },
                );
            }
            match answer::check(&spec.answer_schema, &text) {
                Ok(value) => return end(rec, Outcome::Answer { value }),
                Err(problem) if !repaired => {
                    repaired = true;
                    let note = format!(
                        "Your answer is invalid ({problem}). Answer again, matching the schema exactly."
                    );
                    match call_id {
                        Some(id) => rec
                            .messages
                            .push(json!({"role": "tool", "tool_call_id": id, "content": note})),
                        None => rec.messages.push(json!({"role": "user", "content": note})),
                    }
                    continue;
                }
                Err(problem) => {
                    return end(
                        rec,
                        Outcome::NoDecision {
                            reason: format!("invalid answer after a repair turn: {problem}"),
                        },
                    );
                }
            }
        }

        // Tool calls of this turn, concurrently.
        let t1 = Instant::now();
        let results = futures::future::join_all(calls.iter().map(|c| {
            let memo = &memo;
            async move {
                let name = from_wire(&c.name);
                let args: Value = match serde_json::from_str(if c.raw_args.trim().is_empty() {
                    "{}"
                } else {
                    &c.raw_args
                }) {
                    Ok(v) => v,
                    Err(e) => {
                        return (
                            c,
                            name,
                            Value::Null,
                            ToolOutcome::error(format!(
                                "arguments are not valid JSON ({e}); call again with a JSON object"
                            )),
                            false,
                            0,
                        );
                    }
                };
                let key = (name.clone(), args.to_string());
                if let Some(hit) = memo.get(&key) {
                    return (c, name, args, hit.clone(), true, 0);
                }
                let t = Instant::now();
                // Bounded by what is left of the run: a hung server must not stall the run
                // (or the controller behind it) past its deadline. Dropping the future cancels
                // the call in the pool.
                let left = spec.deadline.saturating_sub(started.elapsed());
                let out = match tokio::time::timeout(left, tools.call(&name, args.clone())).await
                {
                    Ok(out) => out,
                    Err(_) => ToolOutcome::transient(format!(
                        "`{name}` gave no answer before this run's deadline of {:?}; answer with the evidence you have",
                        spec.deadline
                    )),
                };
                (c, name, args, out, false, t.elapsed().as_millis() as u64)
            }
        }))
        .await;
        rec.tool_micros += t1.elapsed().as_micros() as u64;
        for (c, name, args, out, from_memo, millis) in results {
            let capped = out.text.len() > spec.result_cap;
            let for_model = if capped {
                format!(
                    "error: the result of `{name}` is {} bytes, over this run's cap of {} bytes. Narrow the query (filters, limits, a shorter window, one path) and call again.",
                    out.text.len(),
                    spec.result_cap
                )
            } else {
                // Every result is upstream text, whichever server sent it and whatever it
                // fenced itself: the model reads it only inside a fence of the host's.
                let what = if out.is_error {
                    "error from"
                } else {
                    "result of"
                };
                // Redacted before it is fenced: a redaction never reaches the fence's tags.
                let text = mcp_runtime::redact::redact(&out.text);
                crate::prompt::fence(&format!("{what} {name}"), &text, usize::MAX)
            };
            if !from_memo && !name.is_empty() && !args.is_null() {
                memo.insert((name.clone(), args.to_string()), out.clone());
            }
            rec.tool_calls.push(ToolCallRecord {
                step,
                name,
                arguments: args,
                result: out.text,
                is_error: out.is_error,
                from_memo,
                capped,
                millis,
            });
            rec.messages
                .push(json!({"role": "tool", "tool_call_id": c.id, "content": for_model}));
        }
    }
    end(
        rec,
        Outcome::NoDecision {
            reason: format!("step budget of {} spent without an answer", spec.max_steps),
        },
    )
}
