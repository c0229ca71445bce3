//! `rollback --once [--dry-run]` and the rollback half of `run`, wired from the configuration.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::audit::{AuditLog, Metrics};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::mcp::Pool;
use crate::model::OpenAiModel;
use crate::rollback::pass::{Rollback, Settings};
use crate::rollback::schedule;
use crate::rollback::state::StateFile;

/// The rollback flow as the binary runs it.
pub type HostRollback = Rollback<OpenAiModel, Arc<Pool>, SystemClock>;

/// The flow the configuration describes, and its state file.
pub fn build(
    cfg: &Config,
    pool: Arc<Pool>,
    metrics: Arc<Metrics>,
    dry_run: bool,
) -> anyhow::Result<(HostRollback, StateFile)> {
    let r = cfg
        .rollback
        .as_ref()
        .context("the configuration has no `rollback` section")?;
    let flow = cfg.flow(&r.flow)?.clone();
    let settings = cfg.model_settings();
    Ok((
        Rollback {
            model: OpenAiModel::new(settings.clone()).context("model client")?,
            tools: pool,
            prompts: cfg.prompts(),
            audit: AuditLog::new(cfg.audit.jsonl.clone(), cfg.model.price_per_1k),
            metrics,
            clock: SystemClock,
            settings: Settings {
                limits: r.detector,
                window_secs: r.window_secs,
                lookback_secs: r.lookback_hours * 3600,
                max_lead_secs: r.max_lead_minutes * 60,
                skew_secs: r.clock_skew_secs,
                auto_merge: r.auto_merge,
                dry_run,
                flow,
                structured_output: cfg.model.structured_output,
                temperature: cfg.model.temperature,
            },
        },
        StateFile::new(r.state_file.clone()),
    ))
}

/// One pass; prints what was found and done.
pub async fn once(cfg: &Config, pool: Pool, dry_run: bool) -> anyhow::Result<()> {
    let targets = cfg
        .rollback
        .as_ref()
        .map(|r| r.targets.clone())
        .unwrap_or_default();
    let (flow, state) = build(cfg, Arc::new(pool), Arc::new(Metrics::default()), dry_run)?;
    if dry_run {
        match state.simulation().path() {
            Some(p) => outln!(
                "dry run: nothing is written; the detector continues its simulation in {}",
                p.display()
            )?,
            None => outln!("dry run: nothing is written (no state file: one pass only)")?,
        }
    }
    for (cp, report) in schedule::once(&flow, &targets, &state).await? {
        outln!("control plane {cp}:")?;
        if let Some(e) = &report.query_error {
            outln!("  {e}")?;
        }
        if report.routes.is_empty() && report.query_error.is_none() {
            outln!("  no routes measured yet")?;
        }
        for r in &report.routes {
            outln!(
                "  route {}: {} ({:.0}% errors of {} requests){}",
                r.route,
                r.status,
                r.ratio * 100.0,
                r.requests,
                r.incident
                    .as_deref()
                    .map(|i| format!("; {i}"))
                    .unwrap_or_default()
            )?;
        }
        for s in &report.signals {
            outln!("  signal: {s}")?;
        }
        for a in &report.actions {
            outln!("  {a}")?;
        }
        outln!(
            "  model round trips: {}, prompt tokens: {}",
            report.model_calls,
            report.usage.show(report.prompt_tokens)
        )?;
    }
    Ok(())
}

/// Runs the schedule until the future is dropped.
pub async fn run(cfg: &Config, pool: Arc<Pool>, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    let r = cfg.rollback.clone().context("no rollback section")?;
    let (flow, state) = build(cfg, pool, metrics, false)?;
    schedule::run(
        &flow,
        &r.targets,
        &state,
        Duration::from_secs(r.interval_secs.max(1)),
    )
    .await;
    Ok(())
}
