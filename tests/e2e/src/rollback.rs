//! The rollback world: Konnect, GitHub and Slack emulators, mcp-konnect, mcp-github (writes on)
//! and mcp-slack (posting on) over Streamable HTTP, the scripted model, and the flow as
//! `agent-host` builds it (its flow section comes from `examples/agent-host.yaml`), driven by
//! the Konnect emulator's clock.

use std::sync::Arc;
use std::time::Duration;

use agent_host::audit::{AuditLog, Metrics};
use agent_host::clock::Clock;
use agent_host::config::Config;
use agent_host::mcp::Pool;
use agent_host::model::OpenAiModel;
use agent_host::prompt::Prompts;
use agent_host::rollback::detector::Limits;
use agent_host::rollback::pass::{Rollback, Settings, Target};
use mcp_runtime::ServerArgs;
use sandbox::konnect::Konnect;
use sandbox::model::{ModelServer, Script};
use sandbox::{github, konnect, slack};

use crate::approval::root;
use crate::{Hosted, host};

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// The seeded scenario's failure: orders-route answers 503 since 123 minutes before start-up.
pub const SEEDED_ONSET: &str =
    "  - {route: orders-route, from: -123m, status: 503, ratio: 1.0, latency_ms: 3}";

/// A decK edit that puts a `request-termination` plugin (503) on orders-route.
pub fn terminate_orders(yaml: String) -> String {
    yaml.replace(
        "        strip_path: false\n        tags: [shop]\n  - name: payments",
        "        strip_path: false\n        tags: [shop]\n        plugins:\n          - name: request-termination\n            config: {status_code: 503, message: maintenance}\n  - name: payments",
    )
}

/// The Konnect emulator's clock, as the flow's clock.
pub struct ScenarioClock(pub Arc<Konnect>);

impl Clock for ScenarioClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_second(self.0.clock.now()).unwrap_or_else(|_| jiff::Timestamp::now())
    }
}

/// Everything running for one rollback scenario.
pub struct World {
    pub konnect: konnect::KonnectServer,
    pub github: github::GitHubServer,
    pub slack: slack::SlackServer,
    pub model: ModelServer,
    hosted: Vec<(String, Hosted)>,
    pub dir: tempfile::TempDir,
}

impl World {
    /// Starts everything; `scenario` edits the shipped Konnect scenario text; `script` is built
    /// from the culprit's commit id (the orders upstream change in acme/kong-config).
    pub async fn start(
        scenario: impl Fn(String) -> String,
        script: impl Fn(&str) -> Script,
    ) -> Result<Self, Boxed> {
        mcp_runtime::telemetry::install_crypto_provider();
        let github = github::spawn_seeded().await?;
        let dir = tempfile::tempdir()?;
        let text = scenario(std::fs::read_to_string(
            sandbox::konnect::scenario::default_scenario(),
        )?);
        let path = dir.path().join("scenario.yaml");
        std::fs::write(&path, text)?;
        let konnect = konnect::spawn_from(&path, "127.0.0.1:0".parse()?).await?;
        let slack = slack::spawn_seeded().await?;
        let culprit = Self::culprit_of(&github)?;
        let model = sandbox::model::spawn(script(&culprit)).await?;
        let writes = ServerArgs {
            allow_writes: true,
            ..ServerArgs::default()
        };
        let reads = ServerArgs {
            read_only: true,
            ..ServerArgs::default()
        };
        let k = mcp_konnect::server::KonnectServer::new(
            mcp_konnect::client::Konnect::new(&konnect.url(), konnect::TOKEN.to_string())?,
            vec![],
            // Ticks run back to back in real time while the scenario clock jumps a minute per
            // tick: the emulator enforces Konnect's 10/min on its own clock, so the server's
            // real-time gate is opened wide here, and no cache hides a changed answer.
            mcp_konnect::limiter::MetricsGate::new(
                1000,
                Duration::from_secs(0),
                Duration::from_secs(0),
            ),
        );
        let gh = mcp_github::GitHubServer::new(
            mcp_github::client::GitHub::new(
                &github.url(),
                Some(github::TOKEN.to_string()),
                Duration::from_secs(5),
            )?,
            mcp_github::scope::Scope::new(vec!["acme/kong-config".into()]),
            // `pull_merge` exists for the auto-merge scenario; only host code calls it.
            true,
        );
        let hosted = vec![
            ("konnect".to_string(), host(k, &reads).await?),
            ("github".to_string(), host(gh, &writes).await?),
            ("slack".to_string(), crate::host_slack(&slack).await?),
        ];
        Ok(Self {
            konnect,
            github,
            slack,
            model,
            hosted,
            dir,
        })
    }

    /// The commit of acme/kong-config that moved the orders upstream.
    pub fn culprit_of(gh: &github::GitHubServer) -> Result<String, Boxed> {
        sandbox::demo::kong_culprit(gh).ok_or_else(|| "the orders commit is not in the seed".into())
    }

    /// Commits an edit of `kong.yaml` to acme/kong-config's main at `at` (epoch seconds) and,
    /// with `deployed_at`, records its successful `deck sync` run finishing then.
    pub fn push_config(
        &self,
        message: &str,
        edit: impl Fn(String) -> String,
        at: i64,
        deployed_at: Option<i64>,
    ) -> Result<String, Boxed> {
        self.github
            .state
            .with_repo("acme/kong-config", |r| {
                let head = r.resolve("main")?;
                let (_, blob) = r.files_at(&head).get("kong.yaml")?.clone();
                let text = String::from_utf8(r.odb.blob(&blob)?.to_vec()).ok()?;
                let files = std::collections::BTreeMap::from([(
                    "kong.yaml".to_string(),
                    Some(edit(text).into_bytes()),
                )]);
                let sha = r.commit_files("main", &files, message, "mallory", at);
                if let Some(done) = deployed_at {
                    let id = 4_201_900 + r.runs.len() as u64;
                    r.runs.push(sandbox::github::repo::WorkflowRun {
                        id,
                        name: "deck sync".into(),
                        event: "push".into(),
                        branch: "main".into(),
                        head_sha: sha.clone(),
                        status: "completed".into(),
                        conclusion: Some("success".into()),
                        created_at: done - 60,
                        updated_at: done,
                    });
                }
                Some(sha)
            })
            .flatten()
            .ok_or_else(|| "could not commit to acme/kong-config".into())
    }

    /// Hosts one more server (e.g. mcp-prometheus) in the world's pool as `name`.
    pub fn add_server(&mut self, name: &str, hosted: Hosted) {
        self.hosted.push((name.to_string(), hosted));
    }

    /// The agent host's pool over the three servers.
    pub fn pool(&self) -> Pool {
        let servers: Vec<(&str, &Hosted)> =
            self.hosted.iter().map(|(n, h)| (n.as_str(), h)).collect();
        crate::pool(&servers)
    }

    /// The watched target.
    pub fn target(&self) -> Target {
        Target {
            control_plane: "shop-prod".into(),
            repo: "acme/kong-config".into(),
            branch: "main".into(),
            path: "kong.yaml".into(),
            slack_channel: Some("#platform-alerts".into()),
            source: Default::default(),
            prometheus: Default::default(),
        }
    }

    /// The rollback pull requests opened in the config repository: number, branch, head commit.
    pub fn rollback_pulls(&self) -> Result<Vec<(u64, String, String)>, Boxed> {
        self.github
            .state
            .with_repo("acme/kong-config", |r| {
                r.pulls
                    .iter()
                    .filter(|p| p.head_ref.starts_with("auto-rollback/"))
                    .map(|p| (p.number, p.head_ref.clone(), p.head_sha.clone()))
                    .collect()
            })
            .ok_or_else(|| "acme/kong-config is not seeded".into())
    }

    /// A world where `orders-route` answers 503 from three minutes after now for `minutes`
    /// minutes, because of the decK commit (returned) that went live two minutes after now.
    pub async fn orders_incident(minutes: i64) -> Result<(Self, String, i64), Boxed> {
        Self::orders_incident_with(minutes, 170, &[]).await
    }

    /// [`World::orders_incident`] with the commit live `live_after` seconds after now, and
    /// `extra` scenario events (`now` relative seconds: `(from, until, status, ratio, rpm)`).
    pub async fn orders_incident_with(
        minutes: i64,
        live_after: i64,
        extra: &[(i64, i64, u16, f64, Option<u32>)],
    ) -> Result<(Self, String, i64), Boxed> {
        Self::orders_incident_in(minutes, live_after, extra, |s| s).await
    }

    /// [`World::orders_incident_with`] with the shipped scenario's text edited by `edit`
    /// (hostile names, credentials in request URIs).
    pub async fn orders_incident_in(
        minutes: i64,
        live_after: i64,
        extra: &[(i64, i64, u16, f64, Option<u32>)],
        edit: impl Fn(String) -> String,
    ) -> Result<(Self, String, i64), Boxed> {
        let now = jiff::Timestamp::now().as_second();
        let at = |t: i64| {
            jiff::Timestamp::from_second(t)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        let mut lines = vec![format!(
            "  - {{route: orders-route, from: \"{}\", until: \"{}\", status: 503, ratio: 1.0, latency_ms: 3}}",
            at(now + 180),
            at(now + 180 + minutes * 60)
        )];
        for (from, until, status, ratio, rpm) in extra {
            lines.push(format!(
                "  - {{route: orders-route, from: \"{}\", until: \"{}\", status: {status}, ratio: {ratio}{}}}",
                at(now + from),
                at(now + until),
                rpm.map(|r| format!(", rpm: {r}")).unwrap_or_default()
            ));
        }
        let events = lines.join("\n");
        let w = Self::start(
            move |s| edit(s.replace(SEEDED_ONSET, &events)),
            |_| Script { rules: vec![] },
        )
        .await?;
        let sha = w.push_config(
            "orders: maintenance mode",
            terminate_orders,
            now + 60,
            Some(now + live_after),
        )?;
        Ok((w, sha, now))
    }

    /// Whether `head`'s decK file is exactly that of `sha`'s parent (the commit reverted, no
    /// more, no less).
    pub fn reverts_exactly(&self, sha: &str, head: &str) -> bool {
        self.github
            .state
            .with_repo("acme/kong-config", |r| {
                let parent = r.odb.commit(sha)?.parents.first()?.clone();
                Some(r.files_at(head).get("kong.yaml") == r.files_at(&parent).get("kong.yaml"))
            })
            .flatten()
            .unwrap_or(false)
    }

    /// Whether the "Recovered" message replies in the thread of the incident's first message.
    pub fn recovery_is_a_thread_reply(&self) -> bool {
        let posted = self.slack.state.posted();
        let Some(first) = posted.first() else {
            return false;
        };
        posted
            .iter()
            .find(|p| p.text.contains("Recovered"))
            .is_some_and(|r| r.thread_ts.as_deref() == Some(first.ts.as_str()))
    }

    /// The saved incident of `route` on shop-prod, from the state file in the world's dir.
    pub fn saved_incident(&self, route: &str) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("state.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(v["planes"]["shop-prod"]["incidents"][route].clone()).filter(|i| !i.is_null())
    }

    /// The flow as `agent-host` builds it.
    pub fn flow(&self, dry_run: bool) -> Result<Rollback<OpenAiModel, Pool, ScenarioClock>, Boxed> {
        self.flow_with(crate::approval::scripted_model(&self.model.url())?, dry_run)
    }

    /// [`World::flow`] with another model (a real server, in the opt-in checks).
    pub fn flow_with<M: agent_host::model::Model>(
        &self,
        model: M,
        dry_run: bool,
    ) -> Result<Rollback<M, Pool, ScenarioClock>, Boxed> {
        self.flow_on(model, dry_run, ScenarioClock(self.konnect.state.clone()))
    }

    /// [`World::flow_with`] on another clock (the system's, beside a real Prometheus).
    pub fn flow_on<M: agent_host::model::Model, C: Clock>(
        &self,
        model: M,
        dry_run: bool,
        clock: C,
    ) -> Result<Rollback<M, Pool, C>, Boxed> {
        let cfg = Config::load(&root().join("examples/agent-host.yaml"))?;
        let r = cfg
            .rollback
            .clone()
            .ok_or("no rollback section in the example")?;
        Ok(Rollback {
            model,
            tools: self.pool(),
            prompts: Prompts::new(root().join("prompts")),
            audit: AuditLog::new(
                Some(self.dir.path().join("audit.jsonl")),
                Default::default(),
            ),
            metrics: Arc::new(Metrics::default()),
            clock,
            settings: Settings {
                limits: Limits { ..r.detector },
                window_secs: r.window_secs,
                lookback_secs: r.lookback_hours * 3600,
                max_lead_secs: r.max_lead_minutes * 60,
                skew_secs: r.clock_skew_secs,
                auto_merge: false,
                dry_run,
                flow: cfg.flow("rollback")?.clone(),
                structured_output: false,
                temperature: None,
            },
        })
    }
}
