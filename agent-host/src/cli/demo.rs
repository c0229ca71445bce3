//! `agent-host demo`: both stories on this machine, with no credentials. It starts the `sandbox`
//! binary (emulators of Kubernetes, GitHub, Konnect, Slack and a scripted model) as a separate
//! process, our four servers as stdio children exactly as in production (only URLs and tokens
//! differ), and runs the approval and rollback flows once, printing a trail. A real model is used
//! instead of the scripted one when `OPENAI_BASE_URL` is set. Exit status: 0 when both stories
//! end as expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use kube::Api;
use kube::api::{DynamicObject, ListParams};
use serde_json::Value;

use crate::agent::run::UsageSource;
use crate::approval::apply::{approval_tasks, as_value};
use crate::approval::review::Review;
use crate::audit::Metrics;
use crate::config::Config;
use crate::mcp::{Pool, Toolbox};
use crate::outbound::one_line;
use crate::rollback::schedule;

const EXAMPLE: &str = include_str!("../../../examples/agent-host.yaml");
const POLICY: &str = include_str!("../../../examples/approval/policy.yaml");

// The demo's narration: a closed stdout loses it, the demo itself goes on.
fn header(text: &str) {
    let _ = outln!("\n==> {text}");
}

fn step(text: &str) {
    let _ = outln!("    {text}");
}

/// `KEY=VALUE` lines of the sandbox's env file.
fn read_env(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

/// The prompts directory: `./prompts`, else the repository's (beside `target/`), else the image's.
fn prompts_dir(exe_dir: &Path) -> Option<PathBuf> {
    [
        PathBuf::from("prompts"),
        exe_dir.join("../../prompts"),
        PathBuf::from("/usr/share/agent-host/prompts"),
    ]
    .into_iter()
    .find(|p| p.join("approval/system.j2").is_file())
}

/// The shipped example configuration, pointed at the sandbox.
fn config(dir: &Path, env: &BTreeMap<String, String>, exe_dir: &Path) -> anyhow::Result<Config> {
    std::fs::create_dir_all(dir.join("approval"))?;
    let prompts =
        prompts_dir(exe_dir).context("no prompts directory (run from the repository root)")?;
    let text = EXAMPLE.replace(
        "prompts_dir: ../prompts",
        &format!("prompts_dir: {}", std::path::absolute(&prompts)?.display()),
    );
    std::fs::write(dir.join("agent-host.yaml"), text)?;
    std::fs::write(dir.join("approval/policy.yaml"), POLICY)?;
    let mut cfg = Config::load(&dir.join("agent-host.yaml"))?;
    cfg.audit.jsonl = Some(dir.join("audit.jsonl"));
    if let Some(r) = cfg.rollback.as_mut() {
        r.state_file = Some(dir.join("rollback-state.json"));
    }
    if std::env::var("OPENAI_BASE_URL").is_err() {
        cfg.model.base_url = env
            .get("SANDBOX_MODEL_URL")
            .cloned()
            .context("no SANDBOX_MODEL_URL")?;
        cfg.model.name = "scripted".into();
    }
    let pick = |keys: &[&str]| -> BTreeMap<String, String> {
        keys.iter()
            .filter_map(|k| Some((k.to_string(), env.get(*k)?.clone())))
            .collect()
    };
    for (name, server) in cfg.servers.iter_mut() {
        server.pass_env.clear();
        server.env = match name.as_str() {
            "kubernetes" => BTreeMap::from([(
                "KUBECONFIG".to_string(),
                env.get("SANDBOX_AI_KUBECONFIG")
                    .cloned()
                    .unwrap_or_default(),
            )]),
            "github" => pick(&["GITHUB_API_URL", "GITHUB_PERSONAL_ACCESS_TOKEN"]),
            "konnect" => pick(&["KONNECT_API_URL", "KONNECT_ACCESS_TOKEN"]),
            "slack" => {
                let mut e = pick(&["SLACK_API_URL", "SLACK_BOT_TOKEN", "SLACK_TEAM_ID"]);
                e.insert("SLACK_MCP_ADD_MESSAGE_TOOL".into(), "true".into());
                e
            }
            _ => BTreeMap::new(),
        };
        server.env.insert("RUST_LOG".into(), "warn".into());
    }
    Ok(cfg)
}

async fn client(kubeconfig: &str) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// `kubectl get approvaltasks`-style lines.
fn task_table(tasks: &[Value]) -> Vec<String> {
    let mut out = vec![format!(
        "{:<40} {:<9} {:<9} APPROVERS",
        "NAME", "STATE", "APPROVALS"
    )];
    for t in tasks {
        let approvers: Vec<String> = t["spec"]["approvers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{}={}",
                    a["name"].as_str().unwrap_or("?"),
                    a["input"].as_str().unwrap_or("?")
                )
            })
            .collect();
        out.push(format!(
            "{:<40} {:<9} {:<9} {}",
            t["metadata"]["name"].as_str().unwrap_or("?"),
            t["status"]["state"].as_str().unwrap_or("pending"),
            format!(
                "{}/{}",
                t["status"]["approvalsReceived"].as_u64().unwrap_or(0),
                t["spec"]["numberOfApprovalsRequired"]
            ),
            approvers.join(" ")
        ));
    }
    out
}

async fn approval_story(
    cfg: &Config,
    pool: Arc<Pool>,
    kube: kube::Client,
    dir: &Path,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<Result<(), String>> {
    header("Story 1: a deploy pipeline waits on an ApprovalTask; the AI is one of its approvers");
    let api: Api<DynamicObject> = Api::namespaced_with(kube.clone(), "ci", &approval_tasks());
    let tasks: Vec<Value> = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(as_value)
        .collect();
    step("$ kubectl get approvaltasks -n ci");
    for l in task_table(&tasks) {
        step(&format!("  {l}"));
    }
    let Some(task) = tasks
        .iter()
        .find(|t| t["status"]["state"].as_str().unwrap_or("pending") == "pending")
    else {
        bail!("no pending ApprovalTask in the sandbox");
    };
    let name = task["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    step(&format!(
        "reviewing ci/{name} (dry run first): evidence through mcp-kubernetes and mcp-github ..."
    ));
    let metrics = Arc::new(Metrics::default());
    let dry =
        super::approval::build(cfg, pool.clone(), kube.clone(), metrics.clone(), true).await?;
    if let Review::Decided { record, policy, .. } = dry.review(task).await? {
        let said = last_decision(dir)?.map_or_else(
            || "no decision record was written".to_string(),
            |l| verdict_said(&l["run"]),
        );
        step(&format!(
            "dry run: {said}; the decision would be `{}`: {}",
            record.action, record.reason
        ));
        for f in policy {
            step(&format!(
                "  policy {} ({:?}): {}",
                f.rule, f.action, f.detail
            ));
        }
    }
    header("The security team revokes the leaked AWS key and resolves its alert (GitHub API)");
    let var = |k: &str| {
        env.get(k)
            .map(String::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let resolved = reqwest::Client::new()
        .patch(format!(
            "{}/repos/acme/shop/secret-scanning/alerts/1",
            var("GITHUB_API_URL")
        ))
        .bearer_auth(var("GITHUB_PERSONAL_ACCESS_TOKEN"))
        .json(
            &serde_json::json!({"state": "resolved", "resolution": "revoked",
            "resolution_comment": "key rotated"}),
        )
        .send()
        .await?;
    step(&format!(
        "PATCH /repos/acme/shop/secret-scanning/alerts/1 -> HTTP {}",
        resolved.status().as_u16()
    ));
    header(&format!("Reviewing ci/{name} for real"));
    let approver = super::approval::build(cfg, pool, kube.clone(), metrics, false).await?;
    let review = approver.review(task).await?;
    let line = last_decision(dir)?;
    if let Some(l) = &line {
        let run = &l["run"];
        let tools: Vec<&str> = run["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        step(
            "evidence: approval context (PipelineRun, images, approvers), commit, pull request #42 (reviews, checks), security alerts",
        );
        if !tools.is_empty() {
            step(&format!("the model asked for more: {}", tools.join(", ")));
        }
        let rules = approver
            .policy
            .current()
            .map(|p| p.rules.len())
            .unwrap_or(0);
        match l["policy"].as_array().map(Vec::len).unwrap_or(0) {
            0 => step(&format!(
                "policy: all {rules} rules passed (examples/approval/policy.yaml)"
            )),
            n => step(&format!("policy: {n} finding(s): {}", l["policy"])),
        }
        step(&format!("verdict: {}", verdict_said(run)));
        for r in run["outcome"]["value"]["reasons"]
            .as_array()
            .into_iter()
            .flatten()
        {
            step(&format!("  - {}", r.as_str().unwrap_or("")));
        }
    }
    outln!(
        "{}",
        super::approval::describe(&review)
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )?;
    let after = as_value(&api.get(&name).await?);
    step("$ kubectl get approvaltask -n ci (after)");
    for l in task_table(std::slice::from_ref(&after)) {
        step(&format!("  {l}"));
    }
    step(&meaning(&review, &after));
    Ok(match &review {
        Review::Decided { record, .. }
            if record.action == "approve" && record.applied.as_deref() == Some("patched") =>
        {
            Ok(())
        }
        Review::Decided { record, .. } | Review::Resumed(record) => Err(format!(
            "the approval story ended with `{}` ({}) instead of an applied approve: {}",
            record.action,
            record.applied.as_deref().unwrap_or("not applied"),
            one_line(&record.reason, 200)
        )),
        other => Err(format!(
            "the approval story ended without a decision: {}",
            one_line(&super::approval::describe(other), 200)
        )),
    })
}

/// The newest approval decision line of the demo's audit log.
fn last_decision(dir: &Path) -> anyhow::Result<Option<Value>> {
    Ok(super::feedback::read(&dir.join("audit.jsonl"))?
        .into_iter()
        .rev()
        .find(|l| l["kind"] == "approval_decision"))
}

/// What the model said, from a run record (`null`: it was not asked).
fn verdict_said(run: &Value) -> String {
    if run.is_null() {
        return "the model was not asked (the policy decided first)".into();
    }
    let steps = &run["steps"];
    let prompt = run["prompt_tokens"].as_u64().unwrap_or(0);
    let tokens = if run["usage"] == "estimated" {
        UsageSource::Estimated.show(prompt)
    } else {
        UsageSource::Reported.show(prompt)
    };
    match run["outcome"]["kind"].as_str() {
        Some("answer") => {
            let v = &run["outcome"]["value"];
            format!(
                "the model says {} (confidence {}), {steps} round trip(s), {tokens} prompt tokens",
                v["decision"].as_str().unwrap_or("?"),
                v["confidence"]
            )
        }
        _ => format!(
            "the model gave no verdict ({}), {steps} round trip(s), {tokens} prompt tokens",
            run["outcome"]["reason"]
                .as_str()
                .unwrap_or("no reason recorded")
        ),
    }
}

/// What a review's outcome means for the task, from the decision record and the task after it.
fn meaning(review: &Review, after: &Value) -> String {
    let record = match review {
        Review::Decided { record, .. } | Review::Resumed(record) => record,
        other => return super::approval::describe(other),
    };
    let applied = record.applied.as_deref().unwrap_or("not applied (dry run)");
    let count = format!(
        "{}/{}",
        after["status"]["approvalsReceived"].as_u64().unwrap_or(0),
        after["spec"]["numberOfApprovalsRequired"]
    );
    let state = after["status"]["state"].as_str().unwrap_or("pending");
    match record.action.as_str() {
        "approve" if applied == "patched" && state == "pending" => format!(
            "the AI approved ({count} approvals); a human (alice or release-managers) signs last"
        ),
        "approve" if applied == "patched" => format!(
            "the AI's approve completed the task ({count}, {state}): a full approver inside its autonomy scope"
        ),
        "approve" => format!("the AI decided to approve, but the vote was not applied: {applied}"),
        "reject" => format!("the AI rejected ({applied}); the task is {state}"),
        "abstain" => "the AI abstained and left its entry pending: a human decides".into(),
        "recommend-approve" | "recommend-reject" => format!(
            "the AI recorded `{}` and left its entry pending: its vote would have been the last signature, so a human decides",
            record.action
        ),
        "skip" => format!("the AI left the task alone: {}", record.reason),
        other => format!("the AI recorded `{other}` ({applied})"),
    }
}

async fn rollback_story(cfg: &Config, pool: Arc<Pool>) -> anyhow::Result<Result<(), String>> {
    header(
        "Story 2: a decK commit moved the orders upstream; orders-route answers 503 since its deploy",
    );
    let (flow, state) =
        super::rollback::build(cfg, pool.clone(), Arc::new(Metrics::default()), false)?;
    let targets = cfg
        .rollback
        .as_ref()
        .map(|r| r.targets.clone())
        .unwrap_or_default();
    let limit = cfg
        .rollback
        .as_ref()
        .map(|r| r.detector.failure_limit)
        .unwrap_or(2);
    let mut done = false;
    let mut last: Vec<String> = Vec::new();
    for tick in 1..=limit + 2 {
        step(&format!(
            "tick {tick}: konnect.traffic_health over the last minute ..."
        ));
        for (_, report) in schedule::once(&flow, &targets, &state).await? {
            if report.signals.is_empty() {
                step(
                    "  failing, not yet sustained (Argo semantics: failures in a row must exceed failure_limit)",
                );
            }
            for s in &report.signals {
                step(&format!("  signal: {s}"));
            }
            for a in &report.actions {
                step(&format!("  {a}"));
                done |= a.starts_with("opened PR");
            }
            if !report.actions.is_empty() || !report.signals.is_empty() {
                last = report
                    .actions
                    .iter()
                    .chain(&report.signals)
                    .cloned()
                    .collect();
            }
            if report.model_calls > 0 {
                step(&format!(
                    "  model: {} round trip(s), {} prompt tokens",
                    report.model_calls,
                    report.usage.show(report.prompt_tokens)
                ));
            }
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let slack = pool
        .call(
            "slack.channel_history",
            serde_json::json!({"channel": "#platform-alerts", "limit": 1}),
        )
        .await;
    step("$ slack #platform-alerts (latest)");
    for l in slack.text.lines().take(8) {
        step(&format!("  {l}"));
    }
    Ok(if !done {
        Err(format!(
            "the rollback story opened no revert PR in {} ticks; last: {}",
            limit + 2,
            if last.is_empty() {
                "no signal".to_string()
            } else {
                one_line(&last.join("; "), 200)
            }
        ))
    } else if slack.is_error {
        Err(format!(
            "the revert PR was opened, but Slack's history could not be read: {}",
            one_line(&slack.text, 200)
        ))
    } else if !slack.text.contains("pull") {
        Err("the revert PR was opened, but #platform-alerts does not mention it".into())
    } else {
        Ok(())
    })
}

/// Runs the demo; `dir` keeps the logs and audit records. `Ok(Err(why))`: a story ended
/// otherwise than expected, `why` says how in one line.
pub async fn run(dir: Option<PathBuf>) -> anyhow::Result<Result<(), String>> {
    let exe_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .context("no directory for this binary")?;
    let missing: Vec<&str> = [
        "sandbox",
        "mcp-kubernetes",
        "mcp-github",
        "mcp-konnect",
        "mcp-slack",
    ]
    .into_iter()
    .filter(|b| !exe_dir.join(b).is_file())
    .collect();
    if !missing.is_empty() {
        bail!(
            "{} not found beside {}: build them first (`cargo build --bins`)",
            missing.join(", "),
            exe_dir.display()
        );
    }
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    let dir = std::path::absolute(dir.unwrap_or_else(|| PathBuf::from(".demo").join(stamp)))?;
    std::fs::create_dir_all(&dir)?;
    // A folder reused from an earlier run: its env file would point at dead ports and its state
    // would remember the last run's incident.
    for stale in ["sandbox", "rollback-state.json", "audit.jsonl"] {
        let p = dir.join(stale);
        let _ = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
    }
    header(&format!(
        "Starting the sandbox (emulators + scripted model); records go to {}",
        dir.display()
    ));
    let log = std::fs::File::create(dir.join("sandbox.log"))?;
    let mut sandbox = tokio::process::Command::new(exe_dir.join("sandbox"))
        .args(["up", "--dir"])
        .arg(dir.join("sandbox"))
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting the sandbox")?;
    let env_file = dir.join("sandbox/sandbox.env");
    for _ in 0..300 {
        if env_file.is_file() {
            break;
        }
        if let Some(status) = sandbox.try_wait()? {
            bail!(
                "the sandbox exited ({status}); see {}",
                dir.join("sandbox.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let env = read_env(&env_file)?;
    for k in [
        "SANDBOX_MODEL_URL",
        "GITHUB_API_URL",
        "KONNECT_API_URL",
        "SLACK_API_URL",
    ] {
        step(&format!(
            "{k}={}",
            env.get(k).map(String::as_str).unwrap_or("?")
        ));
    }
    let cfg = config(&dir, &env, &exe_dir)?;
    step(&format!(
        "model: {} at {}",
        cfg.model_settings().model,
        cfg.model_settings().base_url
    ));
    let pool = Arc::new(Pool::new(cfg.server_specs(Some(&exe_dir))));
    step(&format!(
        "our servers over stdio: {}",
        cfg.servers.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    let kube = client(
        env.get("SANDBOX_AI_KUBECONFIG")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .await?;
    let approved = approval_story(&cfg, pool.clone(), kube, &dir, &env).await?;
    let rolled_back = rollback_story(&cfg, pool).await?;
    header("Result");
    step(&format!(
        "approval story: {}",
        match &approved {
            Ok(()) => "approved and patched, as expected".to_string(),
            Err(why) => format!("NOT as expected: {why}"),
        }
    ));
    step(&format!(
        "rollback story: {}",
        match &rolled_back {
            Ok(()) => "revert PR opened and Slack told, as expected".to_string(),
            Err(why) => format!("NOT as expected: {why}"),
        }
    ));
    step(&format!(
        "audit records: {}",
        dir.join("audit.jsonl").display()
    ));
    let _ = sandbox.kill().await;
    Ok(approved.and(rolled_back))
}
