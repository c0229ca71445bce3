//! The controller: kube-runtime watches ApprovalTasks (per configured namespace, or cluster-wide)
//! and calls [`Approver::review`] for each change, level-triggered, with bounded concurrency
//! shared across namespaces; failed reviews back off and retry.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::Api;
use kube::api::DynamicObject;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::watcher;
use tokio::sync::Semaphore;

use super::apply::{approval_tasks, as_value};
use super::review::{Approver, Review, ReviewError};
use crate::clock::Clock;
use crate::mcp::Toolbox;
use crate::model::Model;

/// Back-off after a failed review.
const RETRY: Duration = Duration::from_secs(30);

/// The longest wait between retries of a review whose evidence was rate-limited.
const MAX_RETRY: Duration = Duration::from_secs(600);

struct Context<M, T, C> {
    approver: Arc<Approver<M, T, C>>,
    slots: Arc<Semaphore>,
}

async fn reconcile<M: Model, T: Toolbox, C: Clock>(
    task: Arc<DynamicObject>,
    ctx: Arc<Context<M, T, C>>,
) -> Result<Action, ReviewError> {
    let _slot = ctx.slots.acquire().await;
    let value = as_value(&task);
    let review = ctx.approver.review(&value).await?;
    let name = format!(
        "{}/{}",
        task.metadata.namespace.as_deref().unwrap_or(""),
        task.metadata.name.as_deref().unwrap_or("")
    );
    match review {
        Review::Ignored(why) => tracing::debug!(task = %name, %why, "ignored"),
        Review::Decided { record, .. } | Review::Resumed(record) | Review::Waiting(record) => {
            tracing::debug!(task = %name, action = %record.action, "decided; following until final");
        }
        Review::FollowedUp(record) => {
            tracing::info!(task = %name, reward = ?record.reward, "feedback recorded");
        }
    }
    // Every outcome waits for the next change: a task not ours, voted on or final changes only
    // by a vote or by ending, and a pending task of ours is decided in this review already
    // (failed reviews are retried by the error policy).
    Ok(Action::await_change())
}

fn error_policy<M, T, C>(
    task: Arc<DynamicObject>,
    error: &ReviewError,
    _ctx: Arc<Context<M, T, C>>,
) -> Action {
    tracing::warn!(task = ?task.metadata.name, %error, "review failed; retrying");
    match error {
        // As long as the upstream asked, within reason: a quota that resets in an hour is
        // retried then, not hammered every 30 s.
        ReviewError::Retry {
            after: Some(after), ..
        } => Action::requeue((*after).clamp(RETRY, MAX_RETRY)),
        _ => Action::requeue(RETRY),
    }
}

/// Runs until `shutdown` resolves: one watch per namespace (all namespaces when `namespaces`
/// is empty), at most `concurrency` reviews at a time.
pub async fn run<M, T, C>(
    approver: Arc<Approver<M, T, C>>,
    namespaces: &[String],
    concurrency: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    M: Model + 'static,
    T: Toolbox + 'static,
    C: Clock + 'static,
{
    let ctx = Arc::new(Context {
        slots: Arc::new(Semaphore::new(concurrency.max(1))),
        approver: approver.clone(),
    });
    let ar = approval_tasks();
    let apis: Vec<Api<DynamicObject>> = if namespaces.is_empty() {
        vec![Api::all_with(approver.kube.clone(), &ar)]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced_with(approver.kube.clone(), ns, &ar))
            .collect()
    };
    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown));
    let runs = apis.into_iter().map(|api| {
        Controller::new_with(api, watcher::Config::default(), ar.clone())
            .with_config(ControllerConfig::default().concurrency(concurrency.max(1) as u16))
            .graceful_shutdown_on(shutdown.clone())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|res| async move {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "controller event");
                }
            })
    });
    futures::future::join_all(runs).await;
}
