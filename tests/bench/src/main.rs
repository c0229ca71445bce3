//! `mcp-bench`: measures our MCP servers the way the README's benchmark table reports them.
//!
//! For each run it spawns the server binary over stdio against the sandbox emulator and
//! measures: time from spawn to the `initialize` response, the `tools/list` size (total and per
//! tool), peak RSS (`VmHWM` from /proc) after the calls, and the latency of a cheap tool call.
//! Build the servers with `--release` first; numbers from debug builds are meaningless.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

mod host;

#[derive(Parser)]
#[command(
    about = "Benchmark our MCP servers: initialize time, tools/list size, peak RSS, call latency"
)]
struct Args {
    /// Directory holding the server binaries (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Spawns per server.
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// Tool calls per spawn for the latency figure.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// Runs of the agent host's fixed scenario.
    #[arg(long, default_value_t = 50)]
    host_runs: usize,
    /// A peer Prometheus MCP server to measure in the same run against the same real
    /// Prometheus, e.g. the `prometheus-mcp-server` entry point of PyPI's package of that name
    /// (`pip install prometheus-mcp-server` into a venv; never installed by CI).
    #[arg(long)]
    peer_prometheus: Option<PathBuf>,
}

/// One server to measure: how to start it and which cheap call times it.
#[derive(Clone)]
struct Target {
    name: String,
    bin: PathBuf,
    env: Vec<(String, String)>,
    tool: String,
    args: Value,
}

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Session {
    async fn send(&mut self, msg: Value) -> anyhow::Result<()> {
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        Ok(())
    }

    async fn response(&mut self, id: u64) -> anyhow::Result<Value> {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
                .await
                .context("timed out waiting for the server")??
                .context("server closed stdout")?;
            let msg: Value =
                serde_json::from_str(&line).with_context(|| format!("not JSON-RPC: {line}"))?;
            if msg["id"] == id {
                return Ok(msg);
            }
        }
    }

    fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("server exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc status")
    }
}

#[derive(Default)]
struct Sample {
    init: Vec<Duration>,
    call: Vec<Duration>,
    rss_kib: Vec<u64>,
    tools: usize,
    tools_bytes: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

async fn run_once(target: &Target, calls: usize, s: &mut Sample) -> anyhow::Result<()> {
    let (bin, tool) = (&target.bin, target.tool.as_str());
    let started = Instant::now();
    let mut child = Command::new(bin)
        .envs(target.env.iter().cloned())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {}", bin.display()))?;
    let stdin = child.stdin.take().context("stdin")?;
    let stdout = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut sess = Session {
        child,
        stdin,
        stdout,
    };
    sess.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "mcp-bench", "version": "1"}}})).await?;
    sess.response(1).await?;
    s.init.push(started.elapsed());
    sess.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await?;
    sess.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await?;
    let list = sess.response(2).await?;
    let tools = list["result"]["tools"]
        .as_array()
        .context("tools/list returned no tools")?;
    s.tools = tools.len();
    s.tools_bytes = list["result"]["tools"].to_string().len();
    for i in 0..calls {
        let id = 10 + i as u64;
        let t = Instant::now();
        sess.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": target.args}})).await?;
        let r = sess.response(id).await?;
        if r["result"]["isError"] == true {
            bail!("{tool} failed: {}", r["result"]);
        }
        s.call.push(t.elapsed());
    }
    s.rss_kib.push(sess.peak_rss_kib()?);
    drop(sess.stdin);
    let _ = tokio::time::timeout(Duration::from_secs(5), sess.child.wait()).await;
    Ok(())
}

/// Whether Debian's `prometheus` and `prometheus-alertmanager` are on the PATH.
fn prometheus_installed() -> bool {
    ["prometheus", "prometheus-alertmanager"].iter().all(|b| {
        std::process::Command::new("which")
            .arg(b)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = sandbox::tls::SelfSigned::generate();
    let bin_dir = match args.bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .to_path_buf(),
    };
    let kube = sandbox::kube::spawn_seeded().await?;
    let dir = std::env::temp_dir().join(format!("mcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, kube.kubeconfig("admin"))?;

    let github = sandbox::github::spawn_seeded().await?;
    let konnect = sandbox::konnect::spawn_seeded().await?;
    let slack = sandbox::slack::spawn_seeded().await?;
    let env = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let servers = [
        (
            "mcp-kubernetes",
            env(&[("KUBECONFIG", kubeconfig.display().to_string())]),
            "resources_list",
            json!({"kind": "Namespace"}),
        ),
        (
            "mcp-github",
            env(&[
                ("GITHUB_API_URL", github.url()),
                (
                    "GITHUB_PERSONAL_ACCESS_TOKEN",
                    sandbox::github::TOKEN.to_string(),
                ),
            ]),
            "commits_list",
            json!({"repo": "acme/kong-config", "limit": 5}),
        ),
        (
            "mcp-konnect",
            env(&[
                ("KONNECT_API_URL", konnect.url()),
                ("KONNECT_ACCESS_TOKEN", sandbox::konnect::TOKEN.to_string()),
            ]),
            "entities_list",
            json!({"control_plane": "shop-prod", "kind": "services"}),
        ),
        (
            "mcp-slack",
            env(&[
                ("SLACK_API_URL", slack.url()),
                ("SLACK_BOT_TOKEN", sandbox::slack::BOT_TOKEN.to_string()),
            ]),
            "channel_history",
            json!({"channel": "C0ALERTS", "limit": 5}),
        ),
    ];
    let mut targets: Vec<Target> = servers
        .iter()
        .map(|(name, env, tool, targs)| Target {
            name: name.to_string(),
            bin: bin_dir.join(name),
            env: env.clone(),
            tool: tool.to_string(),
            args: targs.clone(),
        })
        .collect();
    // The real Prometheus, when installed (Debian's `prometheus`, as in CI): ours and the peer
    // measured against the same instance in the same run.
    let _prometheus = if prometheus_installed() {
        let counters: sandbox::prometheus::Counters =
            std::sync::Arc::new(std::sync::Mutex::new(vec![
                ("shop", "orders", 200, 1000),
                ("shop", "orders", 503, 3),
            ]));
        let stack = sandbox::prometheus::start(
            sandbox::prometheus::exporter(counters).await,
            "groups: []\n",
        )
        .await;
        let env = vec![
            ("PROMETHEUS_URL".to_string(), stack.prometheus.clone()),
            ("ALERTMANAGER_URL".to_string(), stack.alertmanager.clone()),
        ];
        targets.push(Target {
            name: "mcp-prometheus".into(),
            bin: bin_dir.join("mcp-prometheus"),
            env: env.clone(),
            tool: "query".into(),
            args: json!({"query": "up"}),
        });
        if let Some(peer) = &args.peer_prometheus {
            targets.push(Target {
                name: "prometheus-mcp-server (PyPI)".into(),
                bin: peer.clone(),
                env,
                tool: "execute_query".into(),
                args: json!({"query": "up"}),
            });
        }
        Some(stack)
    } else {
        eprintln!("prometheus is not installed: mcp-prometheus and its peer are not measured");
        None
    };
    println!(
        "| server | init (median) | tools | tools/list bytes | bytes/tool | peak RSS (max) | tool call (median) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for t in &targets {
        let mut s = Sample::default();
        for _ in 0..args.runs {
            run_once(t, args.calls, &mut s).await?;
        }
        let rss = s.rss_kib.iter().max().copied().unwrap_or(0);
        println!(
            "| {} | {:.1} ms | {} | {} | {} | {:.1} MB | {:.2} ms ({}) |",
            t.name,
            median(s.init.clone()).as_secs_f64() * 1000.0,
            s.tools,
            s.tools_bytes,
            s.tools_bytes / s.tools.max(1),
            rss as f64 / 1024.0,
            median(s.call.clone()).as_secs_f64() * 1000.0,
            t.tool,
        );
    }
    let specs = host::specs(
        &bin_dir,
        &servers
            .iter()
            .map(|(n, e, _, _)| (*n, e.clone()))
            .collect::<Vec<_>>(),
    );
    host::schema_cost(
        specs,
        &[
            "kubernetes.*",
            "github.*",
            "konnect.*",
            "slack.channel_history",
            "slack.thread_replies",
        ],
    )
    .await?;
    host::loop_overhead(args.host_runs).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
