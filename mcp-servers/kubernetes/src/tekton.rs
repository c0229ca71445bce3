//! Tekton summaries and the approval context: pure assembly from fetched objects.
//!
//! The chain is ApprovalTask -> CustomRun (same name) -> PipelineRun (label
//! `tekton.dev/pipelineRun`) -> Pipeline spec and TaskRuns. Everything an approver needs comes
//! back in one compact object. Text written by pipeline authors (descriptions, messages) is
//! marked untrusted.

use mcp_runtime::fence::Untrusted;
use serde_json::{Value, json};

use crate::gather::Run;
use crate::images;

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

/// A compact PipelineRun summary: status, params, the git source it builds, every image it
/// runs or deploys (and what could not be resolved), and its TaskRuns. `pipeline` names the
/// referenced Pipeline object only: an embedded spec has no name its author did not choose.
pub fn pipelinerun_summary(run: &Run) -> Value {
    let pr = &run.run;
    let p = params(&pr["spec"]["params"]);
    let (status, reason, message) = succeeded(pr);
    let tasks: Vec<Value> = run
        .taskruns
        .iter()
        .map(|tr| {
            let (s, r, _) = succeeded(tr);
            json!({"name": tr["metadata"]["labels"]["tekton.dev/pipelineTask"].as_str()
                .unwrap_or_else(|| tr["metadata"]["name"].as_str().unwrap_or("")),
                "kind": tr["kind"], "run": tr["metadata"]["name"], "status": s, "reason": r})
        })
        .collect();
    let spec = images::pipeline_spec(pr, run.pipeline.as_ref());
    json!({
        "name": pr["metadata"]["name"],
        "namespace": pr["metadata"]["namespace"],
        "pipeline": run.pipeline.as_ref().and(pr["spec"]["pipelineRef"]["name"].as_str()),
        "status": status, "reason": reason, "message": message_of(&message),
        "started": pr["status"]["startTime"], "completed": pr["status"]["completionTime"],
        "params": p,
        "git": git_source(pr, spec, &run.taskruns),
        "images": run.images.images,
        "imagesUnresolved": run.images.unresolved,
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

/// The git URL and revision the run builds. From its git tasks first: a pipeline task with a
/// URL and a revision param (git-clone's `url` and `revision`, or another conventional pair),
/// the pipeline's params substituted; two git tasks that disagree make both unknown. With no
/// git task, the conventional names among the params the Pipeline declares (all of the run's
/// when its spec is unknown).
pub fn git_source(pr: &Value, spec: Option<&Value>, taskruns: &[Value]) -> Value {
    let pp = images::pipeline_params(pr, spec);
    let find = |p: &serde_json::Map<String, Value>, names: &[&str]| {
        names.iter().find_map(|n| {
            p.get(*n)
                .and_then(Value::as_str)
                .map(|v| images::substitute(v, &pp, taskruns))
                .filter(|v| !v.contains("$("))
        })
    };
    let mut found: Vec<(String, String)> = Vec::new();
    for t in spec.into_iter().flat_map(images::pipeline_tasks) {
        let tp = params(&t["params"]);
        if let (Some(url), Some(rev)) = (find(&tp, GIT_URL_PARAMS), find(&tp, GIT_REV_PARAMS))
            && !found.contains(&(url.clone(), rev.clone()))
        {
            found.push((url, rev));
        }
    }
    match found.as_slice() {
        [(url, rev)] => json!({"url": url, "revision": rev, "from": "git task"}),
        [] => {
            let declared: Option<Vec<&str>> = spec.map(|s| {
                s["params"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            });
            let run_params: serde_json::Map<String, Value> = params(&pr["spec"]["params"])
                .into_iter()
                .filter(|(k, _)| declared.as_ref().is_none_or(|d| d.contains(&k.as_str())))
                .collect();
            json!({"url": find(&run_params, GIT_URL_PARAMS), "revision": find(&run_params, GIT_REV_PARAMS), "from": "params"})
        }
        many => json!({"url": null, "revision": null, "from": "git tasks",
            "ambiguous": many.iter().map(|(u, r)| format!("{u}@{r}")).collect::<Vec<_>>()}),
    }
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
    run: Option<&Run>,
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
    let pr_summary = run.map(pipelinerun_summary);
    let pipeline_tasks: Vec<Value> = run
        .and_then(|r| images::pipeline_spec(&r.run, r.pipeline.as_ref()))
        .into_iter()
        .flat_map(images::pipeline_tasks)
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
    fn git_source_from_the_git_task_then_declared_params() {
        let run = json!({"spec": {"params": [{"name": "git-url", "value": "https://g/x.git"},
            {"name": "git-revision", "value": "abc"}, {"name": "revision", "value": "evil"}]}});
        // No spec: the run's conventional params.
        assert_eq!(git_source(&run, None, &[])["revision"], "abc");
        // A declared param wins over one the run added.
        let spec = json!({"params": [{"name": "git-url"}, {"name": "git-revision"}]});
        let g = git_source(&run, Some(&spec), &[]);
        assert_eq!(
            (g["url"].as_str(), g["revision"].as_str()),
            (Some("https://g/x.git"), Some("abc"))
        );
        // The git task's params, substituted, are what is cloned.
        let spec = json!({"params": [{"name": "sha", "default": "d3f"}], "tasks": [{"name": "clone",
            "taskRef": {"name": "git-clone"}, "params": [{"name": "url", "value": "https://g/y.git"},
            {"name": "revision", "value": "$(params.sha)"}]}]});
        let g = git_source(&json!({"spec": {}}), Some(&spec), &[]);
        assert_eq!(
            (g["url"].as_str(), g["revision"].as_str()),
            (Some("https://g/y.git"), Some("d3f"))
        );
        // Two git tasks that disagree: unknown.
        let spec = json!({"tasks": [
            {"name": "a", "params": [{"name": "url", "value": "https://g/a"}, {"name": "revision", "value": "1"}]},
            {"name": "b", "params": [{"name": "url", "value": "https://g/b"}, {"name": "revision", "value": "2"}]}]});
        let g = git_source(&json!({"spec": {}}), Some(&spec), &[]);
        assert!(g["revision"].is_null() && g["ambiguous"].as_array().is_some_and(|a| a.len() == 2));
    }

    #[test]
    fn deadline_from_custom_run_timeout() {
        let task = json!({"metadata": {"name": "t", "namespace": "ci"}, "spec": {"approvers": [
            {"name": "me", "type": "User", "input": "pending"}]}, "status": {"startTime": "2026-01-01T00:00:00Z"}});
        let cr = json!({"spec": {"timeout": "2h0m0s"}});
        let now: jiff::Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let ctx = approval_context(&task, Some(&cr), None, Some("me"), now);
        assert_eq!(ctx["task"]["secondsLeft"], 3600);
        assert_eq!(ctx["ownApproverIndex"], 0);
        // No startTime yet (the gate writes it at the first vote): the creation time counts.
        let fresh = json!({"metadata": {"name": "t", "namespace": "ci", "creationTimestamp": "2026-01-01T00:30:00Z"},
            "spec": {"approvers": [{"name": "me", "type": "User", "input": "pending"}]}, "status": {}});
        let ctx = approval_context(&fresh, Some(&cr), None, Some("me"), now);
        assert_eq!(ctx["task"]["secondsLeft"], 5400);
        // The CustomRun unreadable: the timeout, and so the deadline, is unknown.
        let ctx = approval_context(&fresh, None, None, Some("me"), now);
        assert!(ctx["task"]["secondsLeft"].is_null());
    }
}
