//! The flow's writes besides the revert: merging a green rollback PR (only with `auto_merge`) and
//! Slack messages (skipped in dry runs).

use serde_json::json;

use super::pass::{Report, Rollback, Target, data};
use crate::clock::Clock;
use crate::mcp::Toolbox;
use crate::model::Model;

impl<M: Model, T: Toolbox, C: Clock> Rollback<M, T, C> {
    /// Merges PR `number` when every check on its head succeeded and that head is `pinned`
    /// (the revert the host made); the merge names the head it checked, so GitHub refuses it
    /// if anything was pushed since. `true` when merged.
    pub(super) async fn merge_when_green(
        &self,
        target: &Target,
        number: u64,
        pinned: Option<&str>,
        report: &mut Report,
    ) -> bool {
        let pr = self
            .tools
            .call(
                "github.pull_get",
                json!({"repo": target.repo, "number": number}),
            )
            .await;
        // Green: at least one check run, every check run succeeded, and every commit status
        // (the older API some validators still use) is success too.
        let green = data(&pr).ok().and_then(|d| {
            let checks = d["checks"].as_array()?;
            let statuses = d["statuses"].as_array()?;
            Some(
                !checks.is_empty()
                    && checks
                        .iter()
                        .all(|c| c["completed"] == true && c["conclusion"] == "success")
                    && statuses.iter().all(|s| s["state"] == "success"),
            )
        });
        let head = data(&pr)
            .ok()
            .and_then(|d| d["head_sha"].as_str())
            .map(str::to_string);
        let Some(head) = head else {
            report.actions.push(format!(
                "auto-merge of #{number} skipped: its head commit could not be read"
            ));
            return false;
        };
        if pinned.is_none_or(|p| p != head) {
            report.actions.push(format!(
                "auto-merge of #{number} refused: its head {} is not the revert the host made; a human decides",
                super::pass::short(&head)
            ));
            return false;
        }
        if green == Some(true) {
            let m = self
                .tools
                .call(
                    "github.pull_merge",
                    json!({"repo": target.repo, "number": number, "sha": head}),
                )
                .await;
            report.actions.push(if m.is_error {
                format!("auto-merge of #{number} failed: {}", m.text)
            } else {
                format!("auto-merged #{number}")
            });
            !m.is_error
        } else {
            report
                .actions
                .push(format!("auto-merge of #{number} waits for green checks"));
            false
        }
    }

    /// Posts to the target's channel (in `thread` if given); returns the message ts.
    pub(super) async fn slack(
        &self,
        target: &Target,
        thread: Option<&str>,
        text: &str,
        report: &mut Report,
    ) -> Option<String> {
        let Some(channel) = &target.slack_channel else {
            report.actions.push(format!("(no Slack channel) {text}"));
            return None;
        };
        if self.settings.dry_run {
            report
                .actions
                .push(format!("would post to {channel}: {text}"));
            return None;
        }
        let out = self
            .tools
            .call(
                "slack.message_post",
                json!({"channel": channel, "text": text, "thread_ts": thread.unwrap_or("")}),
            )
            .await;
        match data(&out) {
            Ok(d) => {
                report.actions.push(format!(
                    "posted to {channel}{}",
                    if thread.is_some() {
                        " (thread reply)"
                    } else {
                        ""
                    }
                ));
                d["ts"].as_str().map(str::to_string)
            }
            Err(e) => {
                report.actions.push(format!("Slack post failed: {e}"));
                None
            }
        }
    }
}
