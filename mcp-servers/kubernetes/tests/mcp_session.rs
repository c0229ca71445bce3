//! Every tool through a real MCP client session (rmcp, stdio child process and Streamable
//! HTTP) against the Kubernetes emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use sandbox::kube;
use sandbox::mcp_client::{call, err, ok};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-kubernetes");
const TASK: &str = "build-and-deploy-run-1-approve-deploy";

struct Env {
    server: kube::KubeServer,
    dir: tempfile::TempDir,
}

async fn emulator() -> Env {
    let server = kube::spawn_seeded().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kubeconfig"), server.kubeconfig("admin")).unwrap();
    Env { server, dir }
}

impl Env {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("RUST_LOG", "warn")
            .env_remove("MCP_ALLOW_WRITES");
        cmd
    }

    async fn stdio(&self, args: &[&str]) -> RunningService<RoleClient, ()> {
        let transport = TokioChildProcess::new(self.command(args)).unwrap();
        ().serve(transport).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_tools_happy_paths_and_bad_input() {
    let env = emulator().await;
    let c = env.stdio(&[]).await;
    let tools: Vec<String> = c
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        !tools.contains(&"approvaltask_decide".to_string()),
        "writes are off by default: {tools:?}"
    );
    assert_eq!(tools.len(), 9, "{tools:?}");

    let pods = ok(&call(
        &c,
        "resources_list",
        json!({"kind": "pods", "namespace": "shop"}),
    )
    .await);
    assert!(
        pods.contains("api-5f6d7c-xyz12") && pods.contains("Running") && pods.contains("3 rows"),
        "{pods}"
    );
    let crds = ok(&call(&c, "resources_list", json!({"kind": "ApprovalTask"})).await);
    assert!(crds.contains(TASK) && crds.contains("pending"), "{crds}");
    let paged = ok(&call(
        &c,
        "resources_list",
        json!({"kind": "Pod", "namespace": "shop", "limit": 2}),
    )
    .await);
    let cursor = paged
        .split("cursor=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let page2 = ok(&call(
        &c,
        "resources_list",
        json!({"kind": "Pod", "namespace": "shop", "limit": 2, "cursor": cursor}),
    )
    .await);
    assert!(
        page2.contains("worker-0") && page2.contains("1 rows"),
        "{page2}"
    );
    let selected = ok(&call(
        &c,
        "resources_list",
        json!({"kind": "deployments.apps", "namespace": "shop", "label_selector": "app=api"}),
    )
    .await);
    assert!(
        selected.contains("api") && !selected.contains("web"),
        "{selected}"
    );

    let got = call(&c, "resources_get", json!({"kind": "Deployment", "namespace": "shop", "name": "web", "fields": ["spec.replicas"]})).await;
    assert_eq!(got.structured_content.as_ref().unwrap()["spec.replicas"], 2);
    let secret = ok(&call(
        &c,
        "resources_get",
        json!({"kind": "Secret", "namespace": "shop", "name": "db-credentials"}),
    )
    .await);
    assert!(
        secret.contains("password") && !secret.contains("c3VwZXItc2VjcmV0LXBhc3N3b3Jk"),
        "{secret}"
    );

    let status = call(
        &c,
        "pods_status",
        json!({"namespace": "shop", "label_selector": "app=api"}),
    )
    .await;
    let s = status.structured_content.unwrap();
    assert_eq!(s["unhealthy"], 1);
    assert!(s.to_string().contains("CrashLoopBackOff"));
    let worker = ok(&call(
        &c,
        "pods_status",
        json!({"namespace": "shop", "name": "worker-0"}),
    )
    .await);
    assert!(worker.contains("ImagePullBackOff"), "{worker}");

    let log = ok(&call(
        &c,
        "pods_log",
        json!({"namespace": "shop", "name": "api-5f6d7c-xyz12", "previous": true, "tail_lines": 1}),
    )
    .await);
    assert!(
        log.contains("password authentication failed") && !log.contains("starting api"),
        "{log}"
    );
    let events = ok(&call(
        &c,
        "events_list",
        json!({"namespace": "shop", "name": "api-5f6d7c-xyz12"}),
    )
    .await);
    let backoff = events.find("BackOff").unwrap();
    let started = events.find("Started").unwrap();
    assert!(backoff < started, "newest first: {events}");

    let rollout = call(
        &c,
        "rollout_status",
        json!({"namespace": "shop", "kind": "Deployment", "name": "api"}),
    )
    .await;
    assert_eq!(rollout.structured_content.unwrap()["complete"], false);

    let pr = call(
        &c,
        "pipelinerun_summary",
        json!({"namespace": "ci", "name": "build-and-deploy-run-1"}),
    )
    .await;
    let pr = pr.structured_content.unwrap();
    assert_eq!(
        pr["git"]["revision"],
        "bebba7a7e0aea8528e5855c074c14faff7404d96"
    );
    assert_eq!(pr["tasks"][0]["status"], "True");
    let tr = call(
        &c,
        "taskrun_summary",
        json!({"namespace": "ci", "name": "build-and-deploy-run-1-build"}),
    )
    .await;
    assert_eq!(
        tr.structured_content.unwrap()["steps"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let ctx = call(
        &c,
        "approval_context",
        json!({"namespace": "ci", "name": TASK}),
    )
    .await;
    let ctx = ctx.structured_content.unwrap();
    assert_eq!(ctx["identity"], "kubernetes-admin");
    assert_eq!(ctx["task"]["approvalsRequired"], 2);
    assert_eq!(
        ctx["pipelineRun"]["git"]["url"],
        "https://github.com/acme/shop.git"
    );
    assert!(
        ctx["pipelineRun"]["images"]
            .to_string()
            .contains("sha256:1f2e3d4c")
    );
    assert!(
        ctx["task"]["deadline"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-22T03:04:12"),
        "{}",
        ctx["task"]
    );

    // Bad input is a tool error a model can act on, never a protocol error.
    assert!(
        err(&call(&c, "resources_list", json!({"kind": "Widget"})).await)
            .contains("no resource type `Widget`")
    );
    assert!(
        err(&call(&c, "resources_get", json!({"kind": "Pod", "name": "x"})).await)
            .contains("namespace")
    );
    assert!(
        err(&call(
            &c,
            "resources_list",
            json!({"kind": "Pod", "namespace": "shop", "label_selector": "app in web"})
        )
        .await)
        .contains("400")
    );
    assert!(
        err(&call(&c, "pods_log", json!({"namespace": "shop", "name": "nope"})).await)
            .contains("not found")
    );
    assert!(
        err(&call(
            &c,
            "rollout_status",
            json!({"namespace": "shop", "kind": "Job", "name": "x"})
        )
        .await)
        .contains("kind")
    );
    let missing_field = call(&c, "pods_log", json!({"namespace": "shop"})).await;
    assert_eq!(missing_field.is_error, Some(true));
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_logs_are_capped_with_a_narrowing_hint() {
    let env = emulator().await;
    let big: String = (0..20_000)
        .map(|i| format!("2026-11-22T01:00:00Z line {i:05} {}\n", "x".repeat(40)))
        .collect();
    env.server
        .cluster
        .set_log("shop", "web-7d4b9c-abcde", "web", false, &big);
    let c = env.stdio(&["--max-output-bytes", "4096"]).await;
    let r = call(
        &c,
        "pods_log",
        json!({"namespace": "shop", "name": "web-7d4b9c-abcde", "tail_lines": 5000}),
    )
    .await;
    let t = ok(&r);
    assert!(t.len() < 4096 + 300, "{}", t.len());
    assert!(
        t.contains("output cut") && t.contains("smaller tail_lines"),
        "{}",
        &t[t.len() - 300..]
    );
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn switches_and_allow_lists() {
    let env = emulator().await;
    let c = env
        .stdio(&[
            "--toolsets",
            "pods",
            "--namespaces",
            "shop",
            "--deny-kinds",
            "Secret",
        ])
        .await;
    let tools: Vec<String> = c
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(tools, ["pods_log", "pods_status"]);
    assert!(err(&call(&c, "pods_status", json!({"namespace": "ci"})).await).contains("allow-list"));
    c.cancel().await.unwrap();

    let c = env.stdio(&["--allow-writes", "--read-only"]).await;
    let tools = c.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().unwrap().read_only_hint == Some(true))
    );
    c.cancel().await.unwrap();

    let out = env
        .command(&["--exclude-tools", "no_such_tool"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tool `no_such_tool`"));
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_write_only_touches_own_entry() {
    let env = emulator().await;
    let id = "system:serviceaccount:ai:ai-approver";
    // Running as alice's token but claiming the AI identity: the webhook would deny it anyway;
    // here we use the AI's own context.
    std::fs::write(
        env.dir.path().join("kubeconfig"),
        env.server.kubeconfig("ai-approver"),
    )
    .unwrap();
    let c = env.stdio(&["--allow-writes"]).await;
    let tools = c.list_all_tools().await.unwrap();
    let decide = tools
        .iter()
        .find(|t| t.name == "approvaltask_decide")
        .unwrap();
    assert_eq!(
        decide.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );

    let before = env
        .server
        .cluster
        .get(
            &env.server
                .cluster
                .resolve("openshift-pipelines.org", "v1alpha1", "approvaltasks")
                .unwrap(),
            "ci",
            TASK,
        )
        .unwrap();
    let r = call(&c, "approvaltask_decide", json!({"namespace": "ci", "name": TASK, "decision": "approve", "message": "AI: checks green"})).await;
    let out = r.structured_content.clone().unwrap_or_default();
    ok(&r);
    assert_eq!(out["identity"], id);
    assert_eq!(out["taskState"], "pending");
    let rt = env
        .server
        .cluster
        .resolve("openshift-pipelines.org", "v1alpha1", "approvaltasks")
        .unwrap();
    let after = env.server.cluster.get(&rt, "ci", TASK).unwrap();
    let mut expected = before["spec"].clone();
    expected["approvers"][1]["input"] = json!("approve");
    expected["approvers"][1]["message"] = json!("AI: checks green");
    assert_eq!(after["spec"], expected, "only the AI's own entry changed");
    assert_eq!(after["status"]["approvalsReceived"], 1);

    // A second vote is refused; a final task is refused.
    assert!(
        err(&call(
            &c,
            "approvaltask_decide",
            json!({"namespace": "ci", "name": TASK, "decision": "reject", "message": "x"})
        )
        .await)
        .contains("already answered")
    );
    assert!(err(&call(&c, "approvaltask_decide", json!({"namespace": "ci", "name": "old-release-approve", "decision": "approve", "message": "x"})).await).contains("already rejected"));
    c.cancel().await.unwrap();

    // Another identity (bob, not a User approver of this task) is refused before any write.
    std::fs::write(
        env.dir.path().join("kubeconfig"),
        env.server.kubeconfig("bob"),
    )
    .unwrap();
    let c = env.stdio(&["--allow-writes"]).await;
    assert!(
        err(&call(
            &c,
            "approvaltask_decide",
            json!({"namespace": "ci", "name": TASK, "decision": "approve", "message": "x"})
        )
        .await)
        .contains("not listed")
    );
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn http_transport_requires_the_token() {
    let env = emulator().await;
    let token_file = env.dir.path().join("token");
    std::fs::write(&token_file, "test-token-123\n").unwrap();
    let mut child = env
        .command(&[
            "--transport",
            "http",
            "--listen",
            "127.0.0.1:0",
            "--auth-token-file",
            token_file.to_str().unwrap(),
        ])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("server printed its URL");
        if let Some(rest) = line.split("url=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let base = url.trim_end_matches("/mcp").to_string();
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let no_token = http.post(&url).header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        .send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    // The scheme in any case (RFC 7235); the token exactly.
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    for (auth, status) in [
        ("bearer test-token-123", 200),
        ("BEARER  test-token-123", 200),
        ("Bearer TEST-TOKEN-123", 401),
    ] {
        let r = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", auth)
            .body(init)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{auth}");
    }
    // Metrics need the token too.
    assert_eq!(
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let config =
        StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header("test-token-123");
    let c = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    let r = call(&c, "resources_list", json!({"kind": "Namespace"})).await;
    assert!(ok(&r).contains("shop"));
    c.cancel().await.unwrap();
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth("test-token-123")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("mcp_tool_calls_total{server=\"mcp-kubernetes\",tool=\"resources_list\"} 1"),
        "{metrics}"
    );
    let _ = child.kill().await;
}

#[test]
fn tool_definitions_are_complete_and_small() {
    use mcp_kubernetes::KubernetesServer;
    use mcp_runtime::ToolServer;
    let tools = KubernetesServer::tools().list_all();
    let problems = mcp_runtime::filter::lint(&tools, KubernetesServer::TOOLSETS);
    assert!(problems.is_empty(), "{problems:?}");
    // The default surface (writes off) as `tools/list` sends it: schemas trimmed by the runtime.
    let served: Vec<_> = tools
        .into_iter()
        .filter(mcp_runtime::filter::is_read_only)
        .map(|mut t| {
            t.input_schema = std::sync::Arc::new(mcp_runtime::schema::compact(&t.input_schema));
            t
        })
        .collect();
    let bytes = serde_json::to_string(&served).unwrap().len();
    assert!(
        bytes / served.len() <= 500,
        "average schema {} bytes per tool (target 500)",
        bytes / served.len()
    );
}

/// `examples/claude_desktop_config.json` starts the server as written (the bare command name
/// resolved to the built binary, KUBECONFIG pointed at the emulator).
#[tokio::test(flavor = "multi_thread")]
async fn claude_desktop_example_starts_the_server() {
    let env = emulator().await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/claude_desktop_config.json"
    );
    let config: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let entry = &config["mcpServers"]["kubernetes"];
    assert_eq!(entry["command"], "mcp-kubernetes");
    let args: Vec<String> = entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(&args);
    for (k, v) in entry["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    cmd.env("KUBECONFIG", env.dir.path().join("kubeconfig"));
    let c = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let info = c.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("mcp-kubernetes")
    );
    let tools = c.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().unwrap().read_only_hint == Some(true))
    );
    c.cancel().await.unwrap();
}

/// The writes example adds `approvaltask_decide`, marked destructive.
#[tokio::test(flavor = "multi_thread")]
async fn the_claude_desktop_writes_example_exposes_the_vote() {
    let env = emulator().await;
    let (command, args, _) = sandbox::mcp_client::claude_desktop_entry(
        "claude_desktop_config.writes.json",
        "kubernetes",
    );
    assert_eq!(command, "mcp-kubernetes");
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(&args)
        .env("RUST_LOG", "warn")
        .env("KUBECONFIG", env.dir.path().join("kubeconfig"));
    let c = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let tools = c.list_all_tools().await.unwrap();
    let vote = tools
        .iter()
        .find(|t| t.name == "approvaltask_decide")
        .expect("the vote tool");
    assert_eq!(
        vote.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
    c.cancel().await.unwrap();
}
