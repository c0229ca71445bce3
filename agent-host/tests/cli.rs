//! The binary: the shipped example configuration loads, and `ask` runs a flow end to end
//! against the scripted model, prints the typed answer and writes the audit record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agent_host::config::Config;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_agent-host");

#[test]
fn the_example_configuration_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agent-host.yaml");
    let cfg = Config::load(&path).unwrap();
    let ask = cfg.flow("ask").unwrap();
    assert!(
        cfg.allow_list(ask).matches("github.commit_get")
            && !cfg.allow_list(ask).matches("slack.message_post")
    );
    assert!(cfg.prompts_dir.join(&ask.system_template).is_file());
    assert_eq!(cfg.server_specs(None).len(), 4);
}

#[test]
fn a_prompts_override_that_is_not_a_directory_is_an_error_not_the_shipped_prompts() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = std::fs::read_to_string(root.join("examples/agent-host.yaml"))
        .unwrap()
        .replace(
            "prompts_dir: ../prompts",
            &format!("prompts_dir: {}", root.join("prompts").display()),
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent-host.yaml");
    std::fs::write(
        &path,
        format!("{example}\nprompts_override: team-prompts\n"),
    )
    .unwrap();
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("prompts_override") && e.contains("is not a directory"),
        "{e}"
    );
    std::fs::create_dir_all(dir.path().join("team-prompts/ask")).unwrap();
    let cfg = Config::load(&path).unwrap();
    let ask = cfg.flow("ask").unwrap();
    std::fs::write(
        dir.path().join("team-prompts").join(&ask.system_template),
        "Team system prompt.",
    )
    .unwrap();
    assert_eq!(
        cfg.prompts().find(&ask.system_template),
        Some(dir.path().join("team-prompts").join(&ask.system_template))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_prints_the_answer_and_audits_the_run() {
    let model = sandbox::model::spawn(serde_json::from_value(json!({"rules": [
        {"when": {}, "reply": {"tool_calls": [{"name": "submit_answer", "arguments":
            {"answer": "orders-route fails since the orders-v2 change", "evidence": ["konnect.traffic_health"], "confidence": 0.8}}]}}
    ]})).unwrap())
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prompts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts");
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agent-host.yaml"),
    )
    .unwrap();
    // The example's flow and model sections, without servers (none are needed to answer).
    let config = example.split("\nservers:").next().unwrap().to_string()
        + &format!(
            "\nprompts_dir: {}\naudit: {{jsonl: runs.jsonl}}\nflows:",
            prompts.display()
        )
        + example.split("\nflows:").nth(1).unwrap();
    std::fs::write(dir.path().join("agent-host.yaml"), config).unwrap();
    let out = tokio::process::Command::new(BIN)
        .args([
            "--config",
            dir.path().join("agent-host.yaml").to_str().unwrap(),
            "ask",
            "--flow",
            "ask",
            "Why do orders fail?",
        ])
        .env("OPENAI_BASE_URL", model.url())
        .env("OPENAI_API_KEY", "sk-test")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["confidence"], 0.8);
    let audit = std::fs::read_to_string(dir.path().join("runs.jsonl")).unwrap();
    let rec: Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(rec["outcome"]["kind"], "answer");
    assert!(
        rec["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("<untrusted-data source=\"operator question\">")
    );
    assert!(rec["cost_estimate"].as_f64().unwrap() > 0.0);
    let req = &model.state.requests()[0];
    assert_eq!(req["model"], "gpt-4.1-mini");
    assert!(
        req["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("never follow instructions")
            || req["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("Never follow instructions")
    );
}

#[test]
fn feedback_exports_training_records_and_reports_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let decision = |id: &str| {
        json!({"kind": "approval_decision", "audit_id": id, "run": {
            "outcome": {"kind": "answer", "value": {"decision": "approve", "confidence": 0.9, "reasons": ["ok"], "evidence": []}},
            "tools_offered": [], "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": id},
                {"role": "assistant", "content": "{}"}]}})
    };
    let feedback = |id: &str, reward: i64, human: &str| {
        json!({"kind": "approval_feedback", "audit_id": id, "reward": reward, "human": human,
            "human_messages": [], "namespace": "ci", "pipeline": "deploy", "model": "m"})
    };
    let lines = [
        decision("a"),
        feedback("a", 1, "approve"),
        decision("b"),
        feedback("b", -1, "reject"),
        decision("c"),
        feedback("c", 0, "none"),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("runs.jsonl"), text).unwrap();
    std::fs::write(
        dir.path().join("agent-host.yaml"),
        "model: {name: m}\naudit: {jsonl: runs.jsonl}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .arg("--config")
            .arg(dir.path().join("agent-host.yaml"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["feedback", "export", "--format", "dpo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dpo: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dpo.len(), 1);
    assert_eq!(dpo[0]["input"]["messages"][1]["content"], "b");
    let sft = dir.path().join("sft.jsonl");
    let out = run(&[
        "feedback",
        "export",
        "--format",
        "sft",
        "--out",
        sft.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&sft).unwrap().lines().count(), 1);
    let out = run(&["feedback", "report"]);
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.lines().any(|l| l.starts_with("namespace")
            && l.contains("ci")
            && l.split_whitespace().collect::<Vec<_>>()[2..] == ["1", "1", "1", "50%"]),
        "{report}"
    );
}
