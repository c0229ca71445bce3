//! Tekton summaries and the approval context: pure assembly from fetched objects.
//!
//! The chain is ApprovalTask -> CustomRun (same name) -> PipelineRun (label
//! `tekton.dev/pipelineRun`) -> Pipeline spec and TaskRuns. Everything an approver needs comes
//! back in one compact object. Text written by pipeline authors (descriptions, messages) is
//! marked untrusted.

use mcp_runtime::fence::Untrusted;
use serde_json::{Value, json};

use crate::format::split_image;

/// Param names that carry a git URL and a revision, by convention in Tekton catalogs.
const GIT_URL_PARAMS: &[&str] = &[
    "git-url",
    "url",
    "repo-url",
    "git-repo",
    "repository",
    "source-url",
];
const GIT_REV_PARAMS: &[&str] = &[
    "git-revision",
    "revision",
    "commit",
    "sha",
    "git-sha",
    "git-commit",
];

/// `params: [{name, value}]` as a map.
pub fn params(list: &Value) -> serde_json::Map<String, Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["value"].clone())))
        .collect()
}

/// `list` with the `message` of each entry fenced (approver responses, conditions).
pub fn fence_messages(list: &Value, source: &str) -> Value {
    match list.as_array() {
        Some(items) => Value::Array(
            items
                .iter()
                .map(|item| {
                    let mut item = item.clone();
                    if let Some(m) = item.get_mut("message") {
                        *m = Untrusted::json(source, m);
                    }
                    item
                })
                .collect(),
        ),
        None => list.clone(),
    }
}

/// A condition message (a controller's words around text a step printed), fenced.
fn message_of(message: &str) -> Option<Untrusted> {
    (!message.is_empty()).then(|| Untrusted::new("condition message", message))
}

/// The Succeeded condition as `(status, reason, message)`.
pub fn succeeded(obj: &Value) -> (String, String, String) {
    let c = obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Succeeded"))
        .cloned()
        .unwrap_or(Value::Null);
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    (s(&c["status"]), s(&c["reason"]), s(&c["message"]))
}

/// Images of a TaskRun: its step image IDs and any image-like params.
pub fn taskrun_images(tr: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for step in tr["status"]["steps"].as_array().into_iter().flatten() {
        if let Some(id) = step["imageID"].as_str().filter(|s| !s.is_empty()) {
            out.push(image_entry(
                id,
                &format!("step {}", step["name"].as_str().unwrap_or("?")),
            ));
        }
    }
    out
}

fn image_entry(reference: &str, source: &str) -> Value {
    let reference = reference.trim_start_matches("docker-pullable://");
    let (repo, tag, digest) = split_image(reference);
    json!({"ref": reference, "repository": repo, "tag": tag, "digest": digest, "source": source})
}

/// Images named in params (`image`, `IMAGE`, `*-image`), which is what a deploy step deploys.
pub fn param_images(params: &serde_json::Map<String, Value>, source: &str) -> Vec<Value> {
    params
        .iter()
        .filter(|(k, _)| {
            k.to_lowercase() == "image"
                || k.to_lowercase().ends_with("-image")
                || k.to_lowercase().ends_with("_image")
        })
        .filter_map(|(k, v)| {
            v.as_str()
                .map(|s| image_entry(s, &format!("{source} param {k}")))
        })
        .collect()
}

/// A compact PipelineRun summary.
pub fn pipelinerun_summary(pr: &Value, taskruns: &[Value]) -> Value {
    let p = params(&pr["spec"]["params"]);
    let (status, reason, message) = succeeded(pr);
    let mut images = param_images(&p, "pipelinerun");
    let tasks: Vec<Value> = taskruns
        .iter()
        .map(|tr| {
            images.extend(taskrun_images(tr));
            let (s, r, _) = succeeded(tr);
            json!({"name": tr["metadata"]["labels"]["tekton.dev/pipelineTask"].as_str()
                .unwrap_or_else(|| tr["metadata"]["name"].as_str().unwrap_or("")),
                "kind": tr["kind"], "run": tr["metadata"]["name"], "status": s, "reason": r})
        })
        .collect();
    json!({
        "name": pr["metadata"]["name"],
        "namespace": pr["metadata"]["namespace"],
        "pipeline": pr["spec"]["pipelineRef"]["name"].as_str().or(pr["metadata"]["labels"]["tekton.dev/pipeline"].as_str()),
        "status": status, "reason": reason, "message": message_of(&message),
        "started": pr["status"]["startTime"], "completed": pr["status"]["completionTime"],
        "params": p,
        "git": git_source(&p),
        "images": images,
        "tasks": tasks,
    })
}

/// A compact TaskRun summary: status, params, the image of every step.
pub fn taskrun_summary(tr: &Value) -> Value {
    let (status, reason, message) = succeeded(tr);
    let p = params(&tr["spec"]["params"]);
    let steps: Vec<Value> = tr["status"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let term = &s["terminated"];
            json!({"name": s["name"], "image": s["imageID"], "exitCode": term["exitCode"], "reason": term["reason"]})
        })
        .collect();
    json!({
        "name": tr["metadata"]["name"], "namespace": tr["metadata"]["namespace"],
        "pipelineRun": tr["metadata"]["labels"]["tekton.dev/pipelineRun"],
        "status": status, "reason": reason, "message": message_of(&message),
        "pod": tr["status"]["podName"], "started": tr["status"]["startTime"], "completed": tr["status"]["completionTime"],
        "params": p, "steps": steps, "results": tr["status"]["results"],
    })
}

/// The git URL and revision from conventional param names.
pub fn git_source(p: &serde_json::Map<String, Value>) -> Value {
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| p.get(*n).and_then(Value::as_str).map(str::to_string))
    };
    json!({"url": find(GIT_URL_PARAMS), "revision": find(GIT_REV_PARAMS)})
}

/// Parses a Go duration (`2h0m0s`, `90m`, `1h30m`) into seconds.
pub fn go_duration_secs(text: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                'h' => 3600.0,
                'm' => 60.0,
                's' => 1.0,
                _ => return None,
            }
        };
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
        any = true;
    }
    (any && num.is_empty()).then_some(total as i64)
}

/// Everything an approver needs, from the ApprovalTask and what it leads to. `identity` is
/// the server's own username, so the result says which entry is ours.
pub fn approval_context(
    task: &Value,
    custom_run: Option<&Value>,
    pipeline_run: Option<&Value>,
    pipeline: Option<&Value>,
    taskruns: &[Value],
    identity: Option<&str>,
    now: jiff::Timestamp,
) -> Value {
    let spec = &task["spec"];
    let status = &task["status"];
    let approvers: Vec<Value> = spec["approvers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            json!({"index": i, "name": a["name"], "type": a["type"], "input": a["input"],
            "message_untrusted": Untrusted::json("approver message", &a["message"]), "members": a["users"]})
        })
        .collect();
    let own_index = identity.and_then(|id| {
        spec["approvers"]
            .as_array()?
            .iter()
            .position(|a| a["name"] == id && crate::approval::is_user(a))
    });
    let timeout_secs = custom_run
        .and_then(|cr| cr["spec"]["timeout"].as_str())
        .and_then(go_duration_secs)
        .or_else(|| {
            custom_run
                .map(|cr| params(&cr["spec"]["params"]))
                .and_then(|p| {
                    p.get("timeout")
                        .and_then(Value::as_str)
                        .and_then(go_duration_secs)
                })
        })
        // The gate's own default when the CustomRun names none; unreadable: unknown.
        .or(custom_run.map(|_| 3600));
    // manual-approval-gate does not persist `status.startTime` until the first vote: before
    // that the task's creation is when its clock started.
    let start = status["startTime"]
        .as_str()
        .or(task["metadata"]["creationTimestamp"].as_str())
        .and_then(|s| s.parse::<jiff::Timestamp>().ok());
    let deadline = match (start, timeout_secs) {
        (Some(s), Some(t)) => Some(s.as_second().saturating_add(t)),
        _ => None,
    };
    let deadline_text = deadline
        .and_then(|d| jiff::Timestamp::from_second(d).ok())
        .map(|d| d.to_string());
    let pr_summary = pipeline_run.map(|pr| pipelinerun_summary(pr, taskruns));
    let pipeline_tasks: Vec<Value> = pipeline
        .map(|p| &p["spec"])
        .or_else(|| pipeline_run.map(|pr| &pr["status"]["pipelineSpec"]))
        .and_then(|s| s["tasks"].as_array())
        .into_iter()
        .flatten()
        .map(|t| json!({"name": t["name"], "ref": t["taskRef"]["name"].as_str().or(t["taskRef"]["kind"].as_str()), "runAfter": t["runAfter"]}))
        .collect();
    json!({
        "task": {
            "namespace": task["metadata"]["namespace"],
            "name": task["metadata"]["name"],
            "state": status["state"].as_str().unwrap_or("pending"),
            "description_untrusted": Untrusted::json("approval task description", &spec["description"]),
            "approvalsRequired": spec["numberOfApprovalsRequired"],
            "approvalsReceived": status["approvalsReceived"],
            "startTime": status["startTime"],
            "deadline": deadline_text,
            "secondsLeft": deadline.map(|d| d - now.as_second()),
        },
        "identity": identity,
        "ownApproverIndex": own_index,
        "approvers": approvers,
        "responses": fence_messages(&status["approversResponse"], "approver message"),
        "pipelineRun": pr_summary,
        "pipelineTasks": pipeline_tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_secs("2h0m0s"), Some(7200));
        assert_eq!(go_duration_secs("1h30m"), Some(5400));
        assert_eq!(go_duration_secs("90s"), Some(90));
        assert_eq!(go_duration_secs("soon"), None);
        assert_eq!(go_duration_secs("10"), None);
    }

    #[test]
    fn git_source_from_conventional_params() {
        let p = params(
            &json!([{"name": "git-url", "value": "https://g/x.git"}, {"name": "git-revision", "value": "abc"}]),
        );
        assert_eq!(
            git_source(&p),
            json!({"url": "https://g/x.git", "revision": "abc"})
        );
    }

    #[test]
    fn deadline_from_custom_run_timeout() {
        let task = json!({"metadata": {"name": "t", "namespace": "ci"}, "spec": {"approvers": [
            {"name": "me", "type": "User", "input": "pending"}]}, "status": {"startTime": "2026-01-01T00:00:00Z"}});
        let cr = json!({"spec": {"timeout": "2h0m0s"}});
        let now: jiff::Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let ctx = approval_context(&task, Some(&cr), None, None, &[], Some("me"), now);
        assert_eq!(ctx["task"]["secondsLeft"], 3600);
        assert_eq!(ctx["ownApproverIndex"], 0);
        // No startTime yet (the gate writes it at the first vote): the creation time counts.
        let fresh = json!({"metadata": {"name": "t", "namespace": "ci", "creationTimestamp": "2026-01-01T00:30:00Z"},
            "spec": {"approvers": [{"name": "me", "type": "User", "input": "pending"}]}, "status": {}});
        let ctx = approval_context(&fresh, Some(&cr), None, None, &[], Some("me"), now);
        assert_eq!(ctx["task"]["secondsLeft"], 5400);
        // The CustomRun unreadable: the timeout, and so the deadline, is unknown.
        let ctx = approval_context(&fresh, None, None, None, &[], Some("me"), now);
        assert!(ctx["task"]["secondsLeft"].is_null());
    }
}
