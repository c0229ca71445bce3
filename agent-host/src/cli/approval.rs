//! `approve NAMESPACE/NAME` (one decision, optionally dry) and `run` (the controller, leader
//! elected, with metrics and probes), both wired from the configuration file.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use kube::Api;
use kube::api::DynamicObject;

use crate::approval::apply::{approval_tasks, as_value};
use crate::approval::controller;
use crate::approval::decide::Limits;
use crate::approval::policy_file::PolicyFile;
use crate::approval::review::{Approver, Review, Settings};
use crate::approval::store::Store;
use crate::audit::{AuditLog, Metrics};
use crate::clock::SystemClock;
use crate::cluster::{self, lease::Elector};
use crate::config::Config;
use crate::mcp::Pool;
use crate::model::OpenAiModel;
use crate::serve::{self, Health};

/// The approver the configuration describes.
pub async fn build(
    cfg: &Config,
    pool: Arc<Pool>,
    client: kube::Client,
    metrics: Arc<Metrics>,
    dry_run: bool,
) -> anyhow::Result<Approver<OpenAiModel, Arc<Pool>, SystemClock>> {
    let a = cfg
        .approval
        .as_ref()
        .context("the configuration has no `approval` section")?;
    let flow = cfg.flow(&a.flow)?.clone();
    let identity = match &a.identity {
        Some(id) => id.clone(),
        None => cluster::whoami(&client)
            .await
            .context("asking the API server who we are (set approval.identity to skip)")?,
    };
    let settings = cfg.model_settings();
    Ok(Approver {
        model: OpenAiModel::new(settings.clone()).context("model client")?,
        tools: pool,
        kube: client.clone(),
        store: Store::new(client, &a.state_namespace),
        policy: PolicyFile::open(&a.policy)?,
        prompts: cfg.prompts(),
        audit: AuditLog::new(cfg.audit.jsonl.clone(), cfg.model.price_per_1k),
        metrics,
        clock: SystemClock,
        settings: Settings {
            identity,
            mode: a.mode,
            limits: Limits {
                min_confidence: a.min_confidence,
                min_seconds_left: a.min_seconds_left,
            },
            dry_run,
            notify_channel: a.notify_slack_channel.clone(),
            model_name: settings.model.clone(),
            flow,
            structured_output: cfg.model.structured_output,
            temperature: cfg.model.temperature,
        },
    })
}

/// Prints a review for a person.
pub fn describe(review: &Review) -> String {
    match review {
        Review::Ignored(why) => format!("nothing to do: {why}"),
        Review::Decided {
            record,
            patch,
            model_calls,
            policy,
        } => {
            let mut out = format!(
                "decision: {}\nreason:   {}\naudit:    {}\nmodel:    {} round trip(s)\n",
                record.action, record.reason, record.audit_id, model_calls
            );
            for f in policy {
                out.push_str(&format!(
                    "policy:   {} ({:?}): {}\n",
                    f.rule, f.action, f.detail
                ));
            }
            match &record.applied {
                Some(a) => out.push_str(&format!("applied:  {a}\n")),
                None => out.push_str("applied:  nothing (dry run)\n"),
            }
            if let Some(p) = patch {
                out.push_str(&format!(
                    "patch:    {}\n",
                    serde_json::to_string(p).unwrap_or_default()
                ));
            }
            out
        }
        Review::Resumed(r) => format!(
            "applied an earlier decision: {} ({:?})",
            r.action, r.applied
        ),
        Review::Waiting(r) => format!(
            "already decided {} ({}); waiting for the task to end",
            r.action, r.audit_id
        ),
        Review::FollowedUp(r) => format!("the task is final; reward {:?}", r.reward),
    }
}

/// `approve NAMESPACE/NAME [--dry-run]`.
pub async fn approve_once(
    cfg: &Config,
    pool: Pool,
    target: &str,
    dry_run: bool,
) -> anyhow::Result<Review> {
    let (ns, name) = target
        .split_once('/')
        .context("give the task as NAMESPACE/NAME")?;
    let client = cluster::call_client().await.context("Kubernetes client")?;
    let approver = build(
        cfg,
        Arc::new(pool),
        client.clone(),
        Arc::new(Metrics::default()),
        dry_run,
    )
    .await?;
    let api: Api<DynamicObject> = Api::namespaced_with(client, ns, &approval_tasks());
    let task = api
        .get(name)
        .await
        .with_context(|| format!("reading ApprovalTask {target}"))?;
    Ok(approver.review(&as_value(&task)).await?)
}

/// Ctrl-C, or SIGTERM (what Kubernetes sends a pod before killing it).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `run`: the approval controller and the rollback schedule (whichever are configured) while
/// this replica leads; metrics and probes always; until Ctrl-C.
pub async fn run(cfg: &Config, pool: Pool, listen: SocketAddr) -> anyhow::Result<()> {
    anyhow::ensure!(
        cfg.approval.is_some() || cfg.rollback.is_some(),
        "the configuration has neither an `approval` nor a `rollback` section: nothing to run"
    );
    let pool = Arc::new(pool);
    // The watch holds its request open for minutes; every other call is bounded.
    let client = cluster::client().await.context("Kubernetes client")?;
    let calls = cluster::call_client().await.context("Kubernetes client")?;
    let metrics = Arc::new(Metrics::default());
    let approver = match &cfg.approval {
        Some(_) => Some(Arc::new(
            build(cfg, pool.clone(), calls.clone(), metrics.clone(), false).await?,
        )),
        None => None,
    };
    let (lease_ns, lease_name, lease_secs) = cfg
        .approval
        .as_ref()
        .map(|a| {
            (
                a.state_namespace.clone(),
                a.lease_name.clone(),
                a.lease_duration_secs,
            )
        })
        .unwrap_or_else(|| {
            // Rollback only: the lease lives in the pod's own namespace.
            let ns = std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "default".into());
            (ns, "agent-host".into(), 15)
        });
    let health = Health {
        metrics: metrics.clone(),
        ready: Arc::new(AtomicBool::new(false)),
        leading: Arc::new(AtomicBool::new(false)),
    };
    let server = tokio::spawn(serve::serve(listen, health.clone()));
    let me = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("agent-host-{}", std::process::id()));
    let elector = Elector::new(
        client,
        &lease_ns,
        &lease_name,
        &me,
        Duration::from_secs(lease_secs),
    );
    health.ready.store(true, Ordering::Relaxed);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let leading = health.leading.clone();
        let approver = approver.clone();
        let (pool, metrics) = (pool.clone(), metrics.clone());
        let work = async move {
            leading.store(true, Ordering::Relaxed);
            let approvals = async {
                if let (Some(a), Some(cfg_a)) = (approver, &cfg.approval) {
                    controller::run(
                        a,
                        &cfg_a.namespaces,
                        cfg_a.concurrency,
                        std::future::pending(),
                    )
                    .await;
                }
            };
            let rollbacks = async {
                if cfg.rollback.is_some()
                    && let Err(e) = super::rollback::run(cfg, pool, metrics).await
                {
                    tracing::error!(error = %e, "rollback flow stopped");
                }
            };
            tokio::join!(approvals, rollbacks);
        };
        tokio::select! {
            res = elector.lead(work) => {
                health.leading.store(false, Ordering::Relaxed);
                if let Err(e) = res {
                    tracing::warn!(error = %e, "leader election");
                }
            }
            () = &mut stop => break,
        }
    }
    health.leading.store(false, Ordering::Relaxed);
    if let Err(e) = elector.release().await {
        tracing::warn!(error = %e, "releasing the lease");
    }
    server.abort();
    Ok(())
}
