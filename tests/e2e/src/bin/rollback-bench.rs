//! Rollback benchmark on the scenario suite (emulator clock, one tick per minute as configured):
//! detection latency from the error onset to the rollback PR, model round trips and prompt
//! tokens per incident, and model calls in a healthy hour. Onsets are spread across the minute
//! and the ticks shifted against the emulator's one-minute buckets, so neither phase decides the
//! result.
//! `cargo run --release -p e2e --bin rollback-bench`.

use agent_host::rollback::state::StateFile;
use e2e::rollback::{SEEDED_ONSET, World, terminate_orders};
use sandbox::model::Script;

fn ts(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Seconds from onset to the PR, model round trips, prompt tokens.
/// One incident: errors start `phase` s into a minute after the first tick; the ticks are shifted
/// by `align` s against the emulator's one-minute buckets.
async fn incident(phase: i64, align: i64) -> Result<(i64, u32, u64), Boxed> {
    let now = jiff::Timestamp::now().as_second();
    let onset = now + 180 + phase;
    let line = format!(
        "  - {{route: orders-route, from: \"{}\", status: 503, ratio: 1.0, latency_ms: 3}}",
        ts(onset)
    );
    let w = World::start(
        move |s| s.replace(SEEDED_ONSET, &line),
        |_| Script { rules: vec![] },
    )
    .await?;
    let sha = w.push_config(
        "orders: maintenance mode",
        terminate_orders,
        onset - 120,
        Some(onset - 20),
    )?;
    w.model.state.set_script(sandbox::demo::model_script(&sha));
    w.konnect.state.clock.advance(align);
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
            let at = now + align + minute * 60;
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
    for (phase, align) in [0, 10, 20, 30, 40, 50]
        .into_iter()
        .flat_map(|p| [0, 20, 40].map(|a| (p, a)))
    {
        let (l, c, t) = incident(phase, align).await?;
        latencies.push(l);
        calls.push(c);
        tokens.push(t);
    }
    // A healthy hour: the seeded scenario without its failure, 60 ticks.
    let w = World::start(
        |s| s.replace(SEEDED_ONSET, ""),
        |_| Script { rules: vec![] },
    )
    .await?;
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
