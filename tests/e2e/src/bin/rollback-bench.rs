//! Rollback benchmark on the scenario suite (emulator clock, one tick per minute as configured):
//! detection latency from the error onset to the rollback PR, model round trips and prompt
//! tokens per incident, and model calls in a healthy hour. Onsets are spread across the minute
//! so the phase between ticks and onset is averaged out.
//! `cargo run --release -p e2e --bin rollback-bench`.

use agent_host::rollback::state::StateFile;
use e2e::rollback::World;
use sandbox::model::Script;
use serde_json::json;

const ONSET_LINE: &str =
    "  - {route: orders-route, from: -123m, status: 503, ratio: 1.0, latency_ms: 3}";

fn confirms(culprit: &str) -> Script {
    serde_json::from_value(json!({"rules": [{"reply": {"tool_calls": [{"name": "submit_answer", "arguments": {
        "culprit": culprit, "confirm": true, "confidence": 0.9, "explanation": "The plugin answers 503."}}]}}]}))
    .unwrap_or(Script { rules: vec![] })
}

fn ts(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Seconds from onset to the PR, model round trips, prompt tokens.
async fn incident(phase: i64) -> Result<(i64, u32, u64), Boxed> {
    let now = jiff::Timestamp::now().as_second();
    let onset = now + 180 + phase;
    let line = format!(
        "  - {{route: orders-route, from: \"{}\", status: 503, ratio: 1.0, latency_ms: 3}}",
        ts(onset)
    );
    let w = World::start(
        move |s| s.replace(ONSET_LINE, &line),
        |_| Script { rules: vec![] },
    )
    .await?;
    let sha = w.push_config(
        "orders: maintenance mode",
        |y| y.replace(
            "        strip_path: false\n        tags: [shop]\n  - name: payments",
            "        strip_path: false\n        tags: [shop]\n        plugins:\n          - name: request-termination\n            config: {status_code: 503}\n  - name: payments",
        ),
        onset - 120,
        Some(onset - 20),
    )?;
    w.model.state.set_script(confirms(&sha));
    let state = StateFile::new(None);
    let mut memory = state.load()?;
    let flow = w.flow(false)?;
    for minute in 0..15 {
        let r = flow.pass(&w.target(), &mut memory).await?;
        let opened = w
            .github
            .state
            .with_repo("acme/kong-config", |r| {
                r.pulls
                    .iter()
                    .any(|p| p.head_ref.starts_with("auto-rollback/"))
            })
            .unwrap_or(false);
        if opened {
            let at = now + minute * 60;
            return Ok((at - onset, r.model_calls, r.prompt_tokens));
        }
        w.konnect.state.clock.advance(60);
    }
    Err("no PR within 15 minutes".into())
}

#[tokio::main]
async fn main() -> Result<(), Boxed> {
    let mut latencies = Vec::new();
    let (mut calls, mut tokens) = (Vec::new(), Vec::new());
    for phase in [0, 10, 20, 30, 40, 50] {
        let (l, c, t) = incident(phase).await?;
        latencies.push(l);
        calls.push(c);
        tokens.push(t);
    }
    // A healthy hour: the seeded scenario without its failure, 60 ticks.
    let w = World::start(|s| s.replace(ONSET_LINE, ""), |_| Script { rules: vec![] }).await?;
    let mut memory = StateFile::new(None).load()?;
    let flow = w.flow(false)?;
    for _ in 0..60 {
        flow.pass(&w.target(), &mut memory).await?;
        w.konnect.state.clock.advance(60);
    }
    let healthy = w.model.state.requests().len();
    latencies.sort_unstable();
    println!("incidents:                          {}", latencies.len());
    println!(
        "detection latency onset -> PR (s):  min {} / median {} / max {} (target <= failure_limit 2 x interval 60 + 10 = 130)",
        latencies[0],
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    println!("model round trips per incident:     {:?}", calls);
    println!("prompt tokens per incident:         {:?}", tokens);
    println!("model calls in a healthy hour:      {healthy} (target 0)");
    Ok(())
}
