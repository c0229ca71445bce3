//! The agent host's own cost: overhead per loop step excluding model and tool time, tokens per
//! run of a fixed scenario, and the token cost of the tool schemas a flow sends.

use std::time::Duration;

use agent_host::agent::{self, Outcome, RunSpec};
use agent_host::mcp::{AllowList, Endpoint, Pool, ServerSpec, ToolOutcome, ToolSpec, Toolbox};
use agent_host::model::{ModelSettings, OpenAiModel, RetryPolicy};
use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Tools that answer at once, so a run's time is model plus host.
struct Instant;

impl Toolbox for Instant {
    async fn list(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "fx.lookup".into(),
            description: "Look something up.".into(),
            schema: json!({"type": "object", "properties": {"key": {"type": "string"}}}),
            read_only: true,
        }]
    }
    async fn call(&self, _name: &str, args: Value) -> ToolOutcome {
        ToolOutcome {
            text: format!("value of {args}: 42"),
            is_error: false,
            data: None,
        }
    }
}

/// Runs the fixed scenario `runs` times; prints overhead per step and tokens per run.
pub async fn loop_overhead(runs: usize) -> anyhow::Result<()> {
    let script = json!({"rules": [
        {"when": {"last_role": "user"}, "reply": {"tool_calls": [
            {"name": "fx__lookup", "arguments": {"key": "a"}}, {"name": "fx__lookup", "arguments": {"key": "b"}}]}},
        {"when": {"last_role": "tool", "contains": "value of {\"key\":\"c\"}"}, "reply": {"tool_calls": [
            {"name": "submit_answer", "arguments": {"answer": "42"}}]}},
        {"when": {"last_role": "tool"}, "reply": {"tool_calls": [{"name": "fx__lookup", "arguments": {"key": "c"}}]}},
    ]});
    let model_server = sandbox::model::spawn(serde_json::from_value(script)?).await?;
    let model = OpenAiModel::new(ModelSettings {
        base_url: model_server.url(),
        api_key: "none".into(),
        model: "scripted".into(),
        timeout: Duration::from_secs(10),
        stream: false,
        retry: RetryPolicy::default(),
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(5),
        cap_param: Default::default(),
    })?;
    let spec = RunSpec {
        flow: "bench".into(),
        system: "Answer with submit_answer.".into(),
        user: "What is the value?".into(),
        answer_schema: json!({"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}),
        structured_output: false,
        max_steps: 6,
        max_tokens: 100_000,
        max_completion_tokens: 1024,
        deadline: Duration::from_secs(30),
        result_cap: 12_000,
        temperature: Some(0.0),
    };
    let mut per_step = Vec::new();
    let mut tokens = Vec::new();
    let mut steps = 0;
    for _ in 0..runs {
        let rec = agent::run(&model, &Instant, &spec).await;
        if !matches!(rec.outcome, Outcome::Answer { .. }) {
            bail!("bench scenario did not answer: {:?}", rec.outcome);
        }
        steps = rec.steps;
        let host = rec
            .total_micros
            .saturating_sub(rec.model_micros + rec.tool_micros);
        per_step.push(Duration::from_micros(host / u64::from(rec.steps.max(1))));
        tokens.push(rec.prompt_tokens + rec.completion_tokens);
    }
    per_step.sort();
    tokens.sort();
    println!();
    println!("| agent-host loop ({runs} runs of a {steps}-step scenario) | median | p90 |");
    println!("|---|---|---|");
    println!(
        "| host overhead per step (excl. model and tools) | {:.3} ms | {:.3} ms |",
        per_step[per_step.len() / 2].as_secs_f64() * 1000.0,
        per_step[per_step.len() * 9 / 10].as_secs_f64() * 1000.0
    );
    println!(
        "| tokens per run (prompt + completion, as the scripted model counts them) | {} | {} |",
        tokens[tokens.len() / 2],
        tokens[tokens.len() * 9 / 10]
    );
    Ok(())
}

/// Tokens (4 bytes each) of the tool schemas each server sends through the host, and of the
/// example `ask` flow's allow-list.
pub async fn schema_cost(servers: Vec<ServerSpec>, ask: &[&str]) -> anyhow::Result<()> {
    let pool = Pool::new(servers);
    let tools = pool.tools().await;
    if tools.is_empty() {
        bail!("no server answered tools/list");
    }
    let wire = |t: &ToolSpec| {
        json!({"type": "function", "function": {"name": agent::run::wire_name(&t.name), "description": t.description, "parameters": t.schema}}).to_string().len()
    };
    println!();
    println!("| tool schemas as the host sends them | tools | tokens per model call |");
    println!("|---|---|---|");
    let mut by_server: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for t in &tools {
        let server = t.name.split('.').next().context("namespaced")?.to_string();
        let e = by_server.entry(server).or_default();
        e.0 += 1;
        e.1 += wire(t);
    }
    for (s, (n, bytes)) in &by_server {
        println!("| {s} (default surface) | {n} | {} |", bytes.div_ceil(4));
    }
    let allow = AllowList::new(ask.iter().map(|s| s.to_string()).collect());
    let flow: Vec<&ToolSpec> = tools.iter().filter(|t| allow.allows(t)).collect();
    let bytes: usize = flow.iter().map(|t| wire(t)).sum::<usize>()
        + agent::answer::submit_tool(&json!({"type": "object"}))
            .to_string()
            .len();
    println!(
        "| flow `ask` (examples/agent-host.yaml) | {} | {} |",
        flow.len() + 1,
        bytes.div_ceil(4)
    );
    Ok(())
}

/// Stdio specs of our servers next to the bench binary, with the emulators' environment.
pub fn specs(bin_dir: &std::path::Path, envs: &[(&str, Vec<(String, String)>)]) -> Vec<ServerSpec> {
    envs.iter()
        .map(|(name, env)| ServerSpec {
            name: name.trim_start_matches("mcp-").to_string(),
            endpoint: Endpoint::Stdio {
                command: bin_dir.join(name),
                args: vec![],
                env: env
                    .iter()
                    .cloned()
                    .chain([("RUST_LOG".to_string(), "warn".to_string())])
                    .collect(),
            },
        })
        .collect()
}
