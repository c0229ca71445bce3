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

/// One incident's numbers.
struct Measured {
    /// Seconds from the error onset to the PR.
    from_onset: i64,
    /// Seconds from the first failing measurement to the PR: the part the host controls.
    from_first_failure: i64,
    /// Wall time of the pass that opened the PR (queries, attribution, model, revert, Slack).
    pass_ms: u128,
    model_calls: u32,
    prompt_tokens: u64,
}

/// One incident: errors start `phase` s into a minute after the first tick; the ticks are shifted
/// by `align` s against the emulator's one-minute buckets.
async fn incident(phase: i64, align: i64) -> Result<Measured, Boxed> {
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
        let started = std::time::Instant::now();
        let r = flow.pass(&w.target(), &mut memory).await?;
        let pass_ms = started.elapsed().as_millis();
        if !w.rollback_pulls()?.is_empty() {
            let at = now + align + minute * 60;
            let first_failure = memory
                .planes
                .values()
                .flat_map(|p| p.detector.routes.values())
                .filter(|r| r.open)
                .find_map(|r| r.failing_since)
                .ok_or("an open incident without a first failing measurement")?;
            return Ok(Measured {
                from_onset: at - onset,
                from_first_failure: at - first_failure,
                pass_ms,
                model_calls: r.model_calls,
                prompt_tokens: r.prompt_tokens,
            });
        }
        w.konnect.state.clock.advance(60);
    }
    Err("no PR within 15 minutes".into())
}

#[tokio::main]
async fn main() -> Result<(), Boxed> {
    let (mut latencies, mut host) = (Vec::new(), Vec::new());
    let (mut calls, mut tokens, mut pass_ms) = (Vec::new(), Vec::new(), Vec::new());
    for (phase, align) in [0, 10, 20, 30, 40, 50]
        .into_iter()
        .flat_map(|p| [0, 20, 40].map(|a| (p, a)))
    {
        let m = incident(phase, align).await?;
        latencies.push(m.from_onset);
        host.push(m.from_first_failure);
        pass_ms.push(m.pass_ms);
        calls.push(m.model_calls);
        tokens.push(m.prompt_tokens);
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
    host.sort_unstable();
    pass_ms.sort_unstable();
    println!("incidents:                          {}", latencies.len());
    println!(
        "detection latency onset -> PR (s):  min {} / median {} / max {} (target <= failure_limit 2 x interval 60 + 10 = 130)",
        latencies[0],
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    println!(
        "first failing measurement -> PR (s): min {} / median {} / max {} (failure_limit 2 x interval 60 + 10 = 130)",
        host[0],
        host[host.len() / 2],
        host[host.len() - 1]
    );
    println!(
        "wall time of the pass that opens the PR (ms): min {} / median {} / max {}",
        pass_ms[0],
        pass_ms[pass_ms.len() / 2],
        pass_ms[pass_ms.len() - 1]
    );
    println!("model round trips per incident:     {:?}", calls);
    println!("prompt tokens per incident:         {:?}", tokens);
    println!("model calls in a healthy hour:      {healthy} (target 0)");
    Ok(())
}
