//! Approval benchmark: routine approvals through the whole stack (emulators, our servers over
//! Streamable HTTP, the scripted model, the approver as `agent-host` builds it). Reports per
//! approval: model round trips, prompt tokens, and host overhead = review wall time minus the
//! time spent waiting for the model. `cargo run --release -p e2e --bin approval-bench [N]`.

use std::time::Instant;

use agent_host::approval::review::{ModeSetting, Review};
use e2e::approval::{AI, World};

const POLICY: &str = "rules:\n  - {id: no-latest, description: no latest, action: reject, check: image-tag, deny: [latest]}\n  - {id: checks-green, description: green, action: reject, check: checks-green}\n";
const SCRIPT: &str = "rules:\n  - reply:\n      tool_calls:\n        - name: submit_answer\n          arguments: {decision: approve, confidence: 0.9, reasons: [routine], evidence: []}\n";
const IMAGE: &str = "registry.example.com/acme/shop@sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let script = serde_saphyr::from_str(SCRIPT)?;
    let w = World::start(script, POLICY).await?;
    let head = w.shop_head()?;
    let approver = w.approver(ModeSetting::CoApprover, false).await?;
    let (mut overhead, mut total) = (Vec::new(), Vec::new());
    for i in 0..n {
        let task = w.create_task(&format!("bench-{i}"), &head, IMAGE, &["alice", AI], 2)?;
        let t = Instant::now();
        let review = approver.review(&task).await?;
        let wall = t.elapsed().as_secs_f64() * 1000.0;
        if !matches!(&review, Review::Decided { record, .. } if record.action == "approve") {
            return Err(format!("task {i}: {review:?}").into());
        }
        total.push(wall);
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(w.audit_path())?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["kind"] == "approval_decision")
        .collect();
    let steps: Vec<f64> = lines
        .iter()
        .filter_map(|l| l["run"]["steps"].as_f64())
        .collect();
    let tokens: Vec<f64> = lines
        .iter()
        .filter_map(|l| l["run"]["prompt_tokens"].as_f64())
        .collect();
    // The scripted model reports no usage; estimate tokens as bytes / 4 of what was sent.
    let sent: Vec<f64> = w
        .model
        .state
        .requests()
        .iter()
        .map(|r| r["messages"].to_string().len() as f64 / 4.0)
        .collect();
    for (l, wall) in lines.iter().zip(&total) {
        let model_ms = l["run"]["model_micros"].as_f64().unwrap_or(0.0) / 1000.0;
        overhead.push(wall - model_ms);
    }
    println!("approvals:                 {n}");
    println!("model round trips (med):   {}", median(steps));
    println!(
        "prompt tokens (med):       {} reported, ~{:.0} estimated from bytes",
        median(tokens),
        median(sent)
    );
    println!("review wall time (med):    {:.1} ms", median(total));
    println!(
        "host overhead (med):       {:.1} ms (wall time minus model time; includes evidence calls through the servers and the Kubernetes writes)",
        median(overhead)
    );
    Ok(())
}
