//! The schedule: every `interval` (jittered by up to a tenth, so replicas and control planes
//! drift apart), one pass per watched control plane, spaced across the interval so Konnect's
//! 10 metrics queries a minute are shared; state saved after every pass.

use std::time::Duration;

use super::pass::{Report, Rollback, Target};
use super::state::StateFile;
use crate::clock::Clock;
use crate::mcp::Toolbox;
use crate::model::Model;

/// A pseudo-random fraction in [0, 1) from the clock, enough to spread ticks.
fn jitter_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// One pass over every target; returns the reports by control plane. A dry run reads and
/// writes the simulation beside the state file ([`StateFile::simulation`]), never the file.
pub async fn once<M: Model, T: Toolbox, C: Clock>(
    flow: &Rollback<M, T, C>,
    targets: &[Target],
    state_file: &StateFile,
) -> anyhow::Result<Vec<(String, Report)>> {
    let simulation = state_file.simulation();
    let (mut state, keep) = if flow.settings.dry_run {
        (simulation.load_simulation(state_file)?, &simulation)
    } else {
        (state_file.load()?, state_file)
    };
    let mut out = Vec::new();
    for t in targets {
        let report = flow.pass(t, &mut state).await?;
        keep.save(&state)?;
        out.push((t.control_plane.clone(), report));
    }
    Ok(out)
}

/// Runs passes forever (until the future is dropped).
pub async fn run<M: Model, T: Toolbox, C: Clock>(
    flow: &Rollback<M, T, C>,
    targets: &[Target],
    state_file: &StateFile,
    interval: Duration,
) {
    let spacing = interval / (targets.len().max(1) as u32);
    loop {
        let mut state = match state_file.load() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "rollback state unreadable; retrying");
                tokio::time::sleep(interval).await;
                continue;
            }
        };
        for t in targets {
            match flow.pass(t, &mut state).await {
                Ok(r) => {
                    for a in &r.actions {
                        tracing::info!(control_plane = %t.control_plane, "{a}");
                    }
                }
                Err(e) => {
                    tracing::error!(control_plane = %t.control_plane, error = %e, "rollback pass failed")
                }
            }
            if let Err(e) = state_file.save(&state) {
                tracing::error!(error = %e, "could not save the rollback state");
            }
            let jitter = spacing.mul_f64(0.1 * jitter_fraction());
            tokio::time::sleep(spacing + jitter).await;
        }
    }
}
