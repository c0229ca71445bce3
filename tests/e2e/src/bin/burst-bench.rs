//! Burst benchmark: N pending ApprovalTasks at once (the seeded routine change, copied), the
//! real controller (`agent-host run`'s watch, 4 reviews at a time), the shipped example policy,
//! and a GitHub quota of QUOTA requests per WINDOW seconds (GitHub's 5,000 an hour, on a
//! benchmark's time scale) that runs out part-way. Reports the decisions by kind and reason,
//! how many approvals or rejects came from missing evidence, model calls, GitHub requests, wall
//! time and peak RSS. `cargo run --release -p e2e --bin burst-bench [N] [QUOTA] [WINDOW]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_host::approval::review::ModeSetting;
use e2e::approval::{AI, DIGEST, World, approving_model, root};

type Boxed = Box<dyn std::error::Error + Send + Sync>;

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() -> Result<(), Boxed> {
    let n: usize = arg(1, 1000);
    let quota: u64 = arg(2, 2000);
    let window: i64 = arg(3, 30);
    let policy = std::fs::read_to_string(root().join("examples/approval/policy.yaml"))?;
    let w = World::start(approving_model(), &policy).await?;
    let head = w.shop_head()?;
    for i in 0..n {
        w.create_task(&format!("burst-{i}"), &head, DIGEST, &["alice", AI], 2)?;
    }
    w.github.state.set_quota(quota, window);
    let approver = Arc::new(w.approver(ModeSetting::CoApprover, false).await?);
    let started = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = approver.clone();
    let controller = tokio::spawn(async move {
        let namespaces = ["ci".to_string()];
        agent_host::approval::controller::run(running, &namespaces, 4, async move {
            let _ = stopped.await;
        })
        .await
    });
    // Decided = a decision record exists for the task.
    let deadline = Instant::now() + Duration::from_secs(900);
    let records = loop {
        let records: Vec<serde_json::Value> = w
            .core_list("configmaps", "ai")?
            .into_iter()
            .filter_map(|c| {
                let text = c["data"]["record.json"].as_str()?.to_string();
                serde_json::from_str::<serde_json::Value>(&text).ok()
            })
            // The burst's own tasks (the seed has one more).
            .filter(|r| r["name"].as_str().is_some_and(|n| n.starts_with("burst-")))
            .collect();
        if records.len() >= n || Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wall = started.elapsed();
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), controller).await;
    let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    let mut from_missing = 0;
    for r in &records {
        let action = r["action"].as_str().unwrap_or("?").to_string();
        let reason = r["reason"].as_str().unwrap_or("");
        if matches!(action.as_str(), "approve" | "reject")
            && (reason.contains("unknown") || reason.contains("unavailable"))
        {
            from_missing += 1;
        }
        let head: String = reason.chars().take(90).collect();
        *reasons.entry(format!("{action}: {head}")).or_default() += 1;
        *by_kind.entry(action).or_default() += 1;
    }
    let gh = w.github.state.requests().len();
    println!("tasks:                         {n}");
    println!("decided:                       {}", records.len());
    println!("decisions by kind:             {by_kind:?}");
    println!("approve/reject from missing evidence: {from_missing}");
    for (r, count) in &reasons {
        println!("  {count:>5} x {r}");
    }
    println!("model calls:                   {}", w.model_calls());
    println!(
        "GitHub requests:               {gh} ({:.1} per task; quota {quota} per {window} s)",
        gh as f64 / n.max(1) as f64
    );
    println!("wall time to decide all:       {:.1} s", wall.as_secs_f64());
    println!(
        "host peak RSS:                 {:.0} MiB (host, servers and emulators in one process)",
        peak_rss_mib()
    );
    Ok(())
}
