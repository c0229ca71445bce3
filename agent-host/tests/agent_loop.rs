//! The loop against the scripted model server and a real MCP server over Streamable HTTP
//! (a fixture tool server hosted by `mcp-runtime`, reached through the host's pool).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agent_host::agent::{self, Outcome, RunSpec};
use agent_host::mcp::{AllowList, Endpoint, Pool, Scoped, ServerSpec};
use agent_host::model::{ModelSettings, OpenAiModel, RetryPolicy};
use mcp_runtime::filter::Toolsets;
use mcp_runtime::{ServerArgs, ToolServer};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use sandbox::model::{self as scripted, ModelServer, Script};
use serde_json::{Value, json};

// ---- a fixture MCP server ----

#[derive(Clone, Default)]
struct Fixture {
    calls: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Text {
    text: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Size {
    bytes: usize,
}

#[tool_router(server_handler = false)]
impl Fixture {
    #[tool(
        description = "Echo text.",
        annotations(
            title = "Echo",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn echo(&self, Parameters(a): Parameters<Text>) -> CallToolResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        CallToolResult::success(vec![rmcp::model::ContentBlock::text(format!(
            "echo: {}",
            a.text
        ))])
    }

    #[tool(
        description = "A big result.",
        annotations(
            title = "Big",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn big(&self, Parameters(a): Parameters<Size>) -> CallToolResult {
        CallToolResult::success(vec![rmcp::model::ContentBlock::text("x".repeat(a.bytes))])
    }

    #[tool(
        description = "Writes.",
        annotations(
            title = "Write",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn hidden(&self) -> CallToolResult {
        CallToolResult::success(vec![rmcp::model::ContentBlock::text("should never run")])
    }
}

impl ToolServer for Fixture {
    const NAME: &'static str = "fixture";
    const VERSION: &'static str = "0";
    const DEFAULT_PORT: u16 = 0;
    const TOOLSETS: Toolsets = &[("all", &["echo", "big", "facts", "hidden"])];
    fn tools() -> ToolRouter<Self> {
        Self::tool_router()
    }
    fn instructions(&self) -> String {
        "fixture".into()
    }
}

struct Hosted {
    url: String,
    fixture: Fixture,
    cancel: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn host(fixture: Fixture, addr: std::net::SocketAddr) -> Hosted {
    let args = ServerArgs {
        max_output_bytes: 1 << 20,
        ..ServerArgs::default()
    };
    let served = mcp_runtime::Served::new(
        fixture.clone(),
        &args,
        Arc::new(mcp_runtime::metrics::Metrics::new("fixture")),
    )
    .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let opts = mcp_runtime::http::HttpOptions {
        token: Some("t0ken".into()),
        max_body_bytes: 1 << 20,
        ..Default::default()
    };
    let app = mcp_runtime::http::router(served, opts, cancel.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let c = cancel.clone();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { c.cancelled().await })
            .await;
    });
    Hosted {
        url: format!("http://{addr}/mcp"),
        fixture,
        cancel,
        task,
    }
}

fn pool(url: &str) -> Pool {
    Pool::new(vec![ServerSpec {
        name: "fx".into(),
        endpoint: Endpoint::Http {
            url: url.into(),
            token: Some("t0ken".into()),
        },
    }])
}

fn model(m: &ModelServer, retries: u32, threshold: u32) -> OpenAiModel {
    model_with(m, retries, threshold, false)
}

fn model_with(m: &ModelServer, retries: u32, threshold: u32, stream: bool) -> OpenAiModel {
    model_capped(m, retries, threshold, stream, Default::default())
}

fn cap_param_model(m: &ModelServer, cap_param: agent_host::model::CapParam) -> OpenAiModel {
    model_capped(m, 0, 5, false, cap_param)
}

fn model_capped(
    m: &ModelServer,
    retries: u32,
    threshold: u32,
    stream: bool,
    cap_param: agent_host::model::CapParam,
) -> OpenAiModel {
    OpenAiModel::new(ModelSettings {
        base_url: m.url(),
        api_key: "sk-test".into(),
        model: "scripted".into(),
        timeout: Duration::from_secs(10),
        stream,
        retry: RetryPolicy {
            max_retries: retries,
            base: Duration::from_millis(10),
            max_wait: Duration::from_secs(5),
        },
        breaker_threshold: threshold,
        breaker_cooldown: Duration::from_secs(60),
        cap_param,
    })
    .unwrap()
}

/// One run of the loop over `pool` seen through `allow`.
async fn run_on(
    model: &OpenAiModel,
    pool: &Pool,
    allow: &AllowList,
    spec: &RunSpec,
) -> agent::RunRecord {
    agent::run(model, &Scoped { pool, allow }, spec).await
}

fn script(rules: Value) -> Script {
    serde_json::from_value(json!({"rules": rules})).unwrap()
}

fn spec(max_steps: u32) -> RunSpec {
    RunSpec {
        flow: "test".into(),
        system: "You answer with submit_answer.".into(),
        user: "What does the echo say?".into(),
        answer_schema: json!({"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string", "maxLength": 100}}, "additionalProperties": false}),
        structured_output: false,
        max_steps,
        max_tokens: 100_000,
        max_completion_tokens: 1024,
        deadline: Duration::from_secs(30),
        result_cap: 2_000,
        temperature: Some(0.0),
    }
}

fn submit(answer: &str) -> Value {
    json!({"tool_calls": [{"name": "submit_answer", "arguments": {"answer": answer}}]})
}

fn tools_offered(req: &Value) -> Vec<String> {
    req["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|x| x["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_memo_and_a_typed_answer() {
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    let m = scripted::spawn(script(json!([
        {"when": {"turn": 1}, "reply": {"tool_calls": [
            {"name": "fx__echo", "arguments": {"text": "a"}}, {"name": "fx__echo", "arguments": {"text": "b"}}, {"name": "fx__echo", "arguments": {"text": "c"}}]}},
        {"when": {"turn": 2}, "reply": {"tool_calls": [{"name": "fx__echo", "arguments": {"text": "a"}}]}},
        {"when": {"turn": 3}, "reply": submit("a, b and c")},
    ]))).await.unwrap();
    let p = pool(&h.url);
    let allow = AllowList::new(vec!["fx.echo".into()]);
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &spec(6)).await;
    assert_eq!(
        rec.outcome,
        Outcome::Answer {
            value: json!({"answer": "a, b and c"})
        },
        "{:?}",
        rec.outcome
    );
    assert_eq!(
        h.fixture.max_in_flight.load(Ordering::SeqCst),
        3,
        "the three calls of one turn ran together"
    );
    assert_eq!(
        h.fixture.calls.load(Ordering::SeqCst),
        3,
        "the repeated call came from the memo"
    );
    assert!(rec.tool_calls[3].from_memo);
    assert_eq!(
        rec.tools_offered,
        vec!["fx.echo".to_string()],
        "the allow-list filters what is offered"
    );
    let reqs = m.state.requests();
    assert_eq!(tools_offered(&reqs[0]), vec!["fx__echo", "submit_answer"]);
    assert!(
        reqs[1]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "tool"
                && m["content"]
                    == "<untrusted-data source=\"result of fx.echo\">\necho: b\n</untrusted-data>"),
        "every tool result reaches the model inside the host's fence"
    );
    assert!(rec.prompt_tokens > 0 && rec.completion_tokens > 0);
    h.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_the_last_step_caps_and_the_allow_list() {
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    let m = scripted::spawn(script(json!([
        {"when": {"turn": 1}, "reply": {"tool_calls": [{"name": "fx__big", "arguments": {"bytes": 50000}}, {"name": "fx__hidden", "arguments": {}}]}},
        {"when": {"tools_offered": true}, "reply": {"tool_calls": [{"name": "fx__echo", "arguments": {"text": "again"}}]}, "times": 1},
        {"when": {}, "reply": {"content": "I give up"}},
    ]))).await.unwrap();
    let p = pool(&h.url);
    let allow = AllowList::new(vec!["fx.echo".into(), "fx.big".into()]);
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &spec(4)).await;
    let reqs = m.state.requests();
    assert_eq!(
        reqs.len(),
        4,
        "tools, tools, an invalid answer, the repair turn"
    );
    assert_eq!(
        tools_offered(&reqs[3]),
        vec!["submit_answer"],
        "the last step offers only the answer"
    );
    assert_eq!(reqs[3]["tool_choice"]["function"]["name"], "submit_answer");
    assert!(
        reqs[3]["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .contains("Answer again")
    );
    let big = &rec.tool_calls[0];
    assert!(
        big.capped && big.result.len() == 50_000,
        "the full result stays in the record"
    );
    let to_model = reqs[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert!(
        to_model["content"]
            .as_str()
            .unwrap()
            .contains("Narrow the query"),
        "{to_model}"
    );
    assert!(
        rec.tool_calls[1].is_error
            && rec.tool_calls[1]
                .result
                .contains("not available in this flow")
    );
    assert!(
        matches!(rec.outcome, Outcome::NoDecision { ref reason } if reason.contains("invalid answer after a repair turn")),
        "{:?}",
        rec.outcome
    );

    let m2 = scripted::spawn(script(json!([{"when": {}, "reply": {"tool_calls": [{"name": "fx__echo", "arguments": {"text": "loop"}}]}}]))).await.unwrap();
    let rec = run_on(&model(&m2, 0, 5), &p, &allow, &spec(2)).await;
    assert!(
        matches!(rec.outcome, Outcome::NoDecision { ref reason } if reason.contains("step budget")),
        "{:?}",
        rec.outcome
    );
    let mut tight = spec(5);
    tight.max_tokens = 10;
    let rec = run_on(&model(&m2, 0, 5), &p, &allow, &tight).await;
    assert!(
        matches!(rec.outcome, Outcome::NoDecision { ref reason } if reason.contains("token budget")),
        "{:?}",
        rec.outcome
    );
    h.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_output_gets_one_repair_turn() {
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    let m = scripted::spawn(script(json!([
        {"when": {"turn": 1}, "reply": {"tool_calls": [{"name": "fx__echo", "raw_arguments": "{\"text\": "}]}},
        {"when": {"turn": 2}, "reply": {"tool_calls": [{"name": "submit_answer", "arguments": {"answer": 42}}]}},
        {"when": {"turn": 3}, "reply": submit("fixed")},
    ]))).await.unwrap();
    let p = pool(&h.url);
    let allow = AllowList::new(vec!["fx.*".into()]);
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &spec(5)).await;
    assert!(rec.tool_calls[0].result.contains("not valid JSON"));
    assert_eq!(
        rec.outcome,
        Outcome::Answer {
            value: json!({"answer": "fixed"})
        }
    );
    let repair = m.state.requests()[2]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        repair["content"].as_str().unwrap().contains("Answer again"),
        "{repair}"
    );
    h.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_honour_retry_after_and_the_breaker_fails_fast() {
    let m = scripted::spawn(script(json!([
        {"when": {"turn": 1}, "reply": {"status": 429, "retry_after": 1}},
        {"when": {"turn": 2}, "reply": {"status": 503}},
        {"when": {}, "reply": {"content": "{\"answer\": \"ok\"}"}, "times": 1},
        {"when": {}, "reply": {"status": 500}},
    ])))
    .await
    .unwrap();
    let client = model(&m, 3, 3);
    let p = Pool::new(vec![]);
    let allow = AllowList::default();
    let rec = run_on(&client, &p, &allow, &spec(3)).await;
    assert_eq!(
        rec.outcome,
        Outcome::Answer {
            value: json!({"answer": "ok"})
        }
    );
    let waits = client.stats.waits.lock().unwrap().clone();
    assert_eq!(
        waits[0],
        Duration::from_secs(1),
        "the provider's Retry-After was honoured: {waits:?}"
    );
    assert!(
        waits[1] < Duration::from_secs(1),
        "then exponential backoff: {waits:?}"
    );

    // Now the provider only fails: the run ends with the provider unavailable (a fault, retried later, never a decision), the breaker opens, and the
    // next run fails fast without a request.
    // 500, 500, 500: the third failure opens the breaker in the middle of the retries.
    let rec = run_on(&client, &p, &allow, &spec(3)).await;
    assert!(
        matches!(rec.outcome, Outcome::Unavailable { ref reason } if reason.contains("circuit open")),
        "{:?}",
        rec.outcome
    );
    let sent = m.state.requests().len();
    let rec = run_on(&client, &p, &allow, &spec(3)).await;
    assert!(
        matches!(rec.outcome, Outcome::Unavailable { ref reason } if reason.contains("circuit open")),
        "{:?}",
        rec.outcome
    );
    assert_eq!(
        m.state.requests().len(),
        sent,
        "no request while the circuit is open"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_server_is_restarted_and_the_model_told_not_to_retry() {
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    let addr: std::net::SocketAddr = h
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    let p = pool(&h.url);
    assert_eq!(
        p.call("fx.echo", json!({"text": "1"})).await.text,
        "echo: 1"
    );
    h.cancel.cancel();
    h.task.abort();
    let _ = h.task.await;
    let down = p.call("fx.echo", json!({"text": "2"})).await;
    assert!(
        down.is_error && down.text.contains("Do not retry"),
        "{down:?}"
    );
    let fast = p.call("fx.echo", json!({"text": "3"})).await;
    assert!(
        fast.is_error && fast.text.contains("restarts in"),
        "backoff, no tight loop: {fast:?}"
    );
    let h2 = host(Fixture::default(), addr).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let back = p.call("fx.echo", json!({"text": "4"})).await;
    assert_eq!(back.text, "echo: 4", "{back:?}");
    assert_eq!(p.restarts()["fx"], 1);
    h2.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_assembles_tool_calls_and_content() {
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    let m = scripted::spawn(script(json!([
        {"when": {"turn": 1}, "reply": {"tool_calls": [{"name": "fx__echo", "arguments": {"text": "streamed"}}]}},
        {"when": {"turn": 2}, "reply": {"content": "{\"answer\": \"streamed ok\"}"}},
    ]))).await.unwrap();
    let p = pool(&h.url);
    let allow = AllowList::new(vec!["fx.echo".into()]);
    let rec = run_on(&model_with(&m, 0, 5, true), &p, &allow, &spec(4)).await;
    assert_eq!(
        rec.outcome,
        Outcome::Answer {
            value: json!({"answer": "streamed ok"})
        },
        "{:?}",
        rec.outcome
    );
    assert_eq!(rec.tool_calls[0].result, "echo: streamed");
    assert!(m.state.requests().iter().all(|r| r["stream"] == true));
    assert!(rec.prompt_tokens > 0, "usage from the final stream chunk");
    h.cancel.cancel();
}

// ---- the completion cap and honest usage ----

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_cut_off_by_the_cap_is_never_parsed() {
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    // A valid answer followed by padding: cut at the cap, the text left would still parse.
    let padded = format!("{{\"answer\": \"approve\"}}{}", " ".repeat(400));
    let m = scripted::spawn(script(json!([{"reply": {"content": padded}}])))
        .await
        .unwrap();
    let p = pool(&h.url);
    let allow = AllowList::new(vec!["fx.echo".into()]);
    let mut s = spec(4);
    s.max_completion_tokens = 16;
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &s).await;
    match &rec.outcome {
        Outcome::NoDecision { reason } => {
            assert!(
                reason.contains("cut off at the completion cap of 16 tokens"),
                "{reason}"
            )
        }
        other => panic!("a truncated reply was taken as an answer: {other:?}"),
    }
    let reqs = m.state.requests();
    assert_eq!(reqs.len(), 2, "one repair turn, then the run ends");
    assert!(reqs.iter().all(|r| r["max_completion_tokens"] == 16));
    let note = reqs[1]["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("cut off"), "{note}");
    // A cut-off tool call is not run either.
    let long = "x".repeat(400);
    let m = scripted::spawn(script(json!([{"reply": {"tool_calls": [
        {"name": "fx__echo", "arguments": {"text": long}}]}}])))
    .await
    .unwrap();
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &s).await;
    assert!(matches!(rec.outcome, Outcome::NoDecision { .. }));
    assert!(rec.tool_calls.is_empty());
    assert_eq!(h.fixture.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cap_moves_to_max_tokens_for_servers_that_only_know_that() {
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    let m = scripted::spawn(script(json!([
        {"when": {"turn": 1}, "reply": {"status": 400,
            "error_message": "Unrecognized request argument supplied: max_completion_tokens"}},
        {"reply": submit("ok")},
    ])))
    .await
    .unwrap();
    let p = pool(&h.url);
    let allow = AllowList::new(vec!["fx.echo".into()]);
    let auto = cap_param_model(&m, agent_host::model::CapParam::Auto);
    let rec = run_on(&auto, &p, &allow, &spec(3)).await;
    assert!(
        matches!(rec.outcome, Outcome::Answer { .. }),
        "{:?}",
        rec.outcome
    );
    let reqs = m.state.requests();
    assert_eq!(reqs[0]["max_completion_tokens"], 1024);
    assert_eq!(
        (
            reqs[1]["max_tokens"].as_u64(),
            reqs[1]["max_completion_tokens"].is_null()
        ),
        (Some(1024), true)
    );
    // The switch is remembered.
    let _ = run_on(&auto, &p, &allow, &spec(3)).await;
    assert_eq!(m.state.requests()[2]["max_tokens"], 1024);
    // Configured explicitly, no probing.
    let m = scripted::spawn(script(json!([{"reply": submit("ok")}])))
        .await
        .unwrap();
    let legacy = cap_param_model(&m, agent_host::model::CapParam::MaxTokens);
    let _ = run_on(&legacy, &p, &allow, &spec(3)).await;
    assert_eq!(m.state.requests()[0]["max_tokens"], 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_the_provider_did_not_report_is_an_estimate() {
    use agent_host::agent::run::UsageSource;
    let h = host(Fixture::default(), "127.0.0.1:0".parse().unwrap()).await;
    let p = pool(&h.url);
    let allow = AllowList::new(vec!["fx.echo".into()]);
    let m = scripted::spawn(script(json!([{"reply": {
        "tool_calls": [{"name": "submit_answer", "arguments": {"answer": "ok"}}], "omit_usage": true}}])))
    .await
    .unwrap();
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &spec(3)).await;
    assert!(matches!(rec.outcome, Outcome::Answer { .. }));
    assert_eq!(rec.usage, UsageSource::Estimated);
    assert!(rec.prompt_tokens > 0 && rec.completion_tokens > 0);
    // Reported usage is taken as it is.
    let m = scripted::spawn(script(json!([{"reply": submit("ok")}])))
        .await
        .unwrap();
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &spec(3)).await;
    assert_eq!(rec.usage, UsageSource::Reported);
    // A call cancelled at the deadline: the prompt was read, usage unknown.
    let m = scripted::spawn(script(
        json!([{"reply": {"content": "late", "delay_ms": 3000}}]),
    ))
    .await
    .unwrap();
    let mut s = spec(3);
    s.deadline = Duration::from_millis(300);
    let rec = run_on(&model(&m, 0, 5), &p, &allow, &s).await;
    assert!(matches!(&rec.outcome, Outcome::Unavailable { reason } if reason.contains("deadline")));
    assert_eq!(rec.usage, UsageSource::Estimated);
    assert!(rec.prompt_tokens > 0, "the prompt was sent");
}

/// A toolbox whose one tool never answers, like a hung server.
struct Hung;

impl agent_host::mcp::Toolbox for Hung {
    async fn list(&self) -> Vec<agent_host::mcp::ToolSpec> {
        vec![agent_host::mcp::ToolSpec {
            name: "fx.hang".into(),
            description: "never answers".into(),
            schema: json!({"type": "object"}),
            read_only: true,
        }]
    }

    async fn call(&self, _: &str, _: Value) -> agent_host::mcp::ToolOutcome {
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_tool_call_ends_at_the_run_deadline() {
    let m = scripted::spawn(script(json!([
        {"when": {"last_role": "user"}, "reply": {"tool_calls": [{"name": "fx__hang", "arguments": {}}]}},
        {"reply": submit("gave up on the tool")},
    ])))
    .await
    .unwrap();
    let mut s = spec(3);
    s.deadline = Duration::from_millis(400);
    // Bounded only so a regression fails instead of hanging the suite.
    let rec = tokio::time::timeout(
        Duration::from_secs(30),
        agent::run(&model(&m, 0, 5), &Hung, &s),
    )
    .await
    .expect("the run ended");
    assert_eq!(rec.tool_calls.len(), 1);
    assert!(
        rec.tool_calls[0].is_error && rec.tool_calls[0].result.contains("deadline"),
        "{:?}",
        rec.tool_calls[0]
    );
    assert!(
        matches!(&rec.outcome, Outcome::NoDecision { reason } if reason.contains("deadline")),
        "{:?}",
        rec.outcome
    );
}
