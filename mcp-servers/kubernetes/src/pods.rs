//! Pod diagnosis and event folding: pure functions over API objects.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A compact explanation of a pod: phase, restarts, why containers are not ready, images.
pub fn summarize(pod: &Value) -> Value {
    let mut problems = Vec::new();
    let mut containers = Vec::new();
    let statuses = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let init = pod["status"]["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (c, is_init) in statuses
        .iter()
        .map(|c| (c, false))
        .chain(init.iter().map(|c| (c, true)))
    {
        let name = c["name"].as_str().unwrap_or_default();
        let restarts = c["restartCount"].as_u64().unwrap_or(0);
        let state = &c["state"];
        let (state_name, reason, message) = if let Some(w) = state.get("waiting") {
            (
                "waiting",
                w["reason"].as_str().unwrap_or(""),
                w["message"].as_str().unwrap_or(""),
            )
        } else if let Some(t) = state.get("terminated") {
            (
                "terminated",
                t["reason"].as_str().unwrap_or(""),
                t["message"].as_str().unwrap_or(""),
            )
        } else {
            ("running", "", "")
        };
        if !reason.is_empty() && reason != "Completed" {
            problems.push(format!("container {name}: {reason}{}", explain(reason)));
        }
        if let Some(last) = c["lastState"].get("terminated") {
            let code = last["exitCode"].as_i64().unwrap_or(0);
            if code != 0 {
                problems.push(format!(
                    "container {name}: last run exited {code} ({}); read its log with previous=true",
                    last["reason"].as_str().unwrap_or("Error")
                ));
            }
        }
        if restarts >= 3 {
            problems.push(format!("container {name}: restarted {restarts} times"));
        }
        let image = c["image"].as_str().unwrap_or_default();
        let image_id = c["imageID"].as_str().unwrap_or_default();
        containers.push(json!({
            "name": name,
            "init": is_init,
            "ready": c["ready"].as_bool().unwrap_or(false),
            "restarts": restarts,
            "state": state_name,
            "reason": reason,
            "message": (!message.is_empty())
                .then(|| mcp_runtime::fence::Untrusted::new("container message", message)),
            "image": image,
            "digest": image_id.split_once('@').map(|(_, d)| d),
        }));
    }
    let phase = pod["status"]["phase"].as_str().unwrap_or("Unknown");
    if phase == "Pending" && containers.is_empty() {
        let unscheduled = pod["status"]["conditions"].as_array().and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
        });
        if let Some(c) = unscheduled {
            problems.push(format!(
                "not scheduled: {}",
                c["message"].as_str().unwrap_or("")
            ));
        }
    }
    if phase == "Failed" {
        problems.push(format!(
            "pod failed: {}",
            pod["status"]["reason"]
                .as_str()
                .unwrap_or("see container states")
        ));
    }
    json!({
        "name": pod["metadata"]["name"],
        "namespace": pod["metadata"]["namespace"],
        "phase": phase,
        "node": pod["spec"]["nodeName"],
        "healthy": problems.is_empty() && phase != "Pending",
        "problems": problems,
        "containers": containers,
    })
}

fn explain(reason: &str) -> &'static str {
    match reason {
        "CrashLoopBackOff" => " (the container keeps exiting; check the previous log)",
        "ImagePullBackOff" | "ErrImagePull" => {
            " (the image cannot be pulled: wrong name/tag or missing pull secret)"
        }
        "CreateContainerConfigError" => " (a referenced ConfigMap/Secret key is missing)",
        "OOMKilled" => " (out of memory: raise the limit or fix the leak)",
        _ => "",
    }
}

/// One row of folded events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub last_seen: String,
    pub kind: String,
    pub reason: String,
    pub object: String,
    pub count: u64,
    pub message: String,
}

/// Events newest first, with identical (object, reason, message) folded into one row.
pub fn fold_events(events: &[Value]) -> Vec<EventRow> {
    let mut folded: BTreeMap<(String, String, String), EventRow> = BTreeMap::new();
    for e in events {
        let object = format!(
            "{}/{}",
            e["involvedObject"]["kind"].as_str().unwrap_or(""),
            e["involvedObject"]["name"].as_str().unwrap_or("")
        );
        let reason = e["reason"].as_str().unwrap_or("").to_string();
        let message = e["message"].as_str().unwrap_or("").to_string();
        let last = e["lastTimestamp"]
            .as_str()
            .or_else(|| e["eventTime"].as_str())
            .or_else(|| e["metadata"]["creationTimestamp"].as_str())
            .unwrap_or("")
            .to_string();
        let count = e["count"].as_u64().unwrap_or(1);
        let row = folded
            .entry((object.clone(), reason.clone(), message.clone()))
            .or_insert(EventRow {
                last_seen: last.clone(),
                kind: e["type"].as_str().unwrap_or("").to_string(),
                reason,
                object,
                count: 0,
                message,
            });
        row.count += count;
        if last > row.last_seen {
            row.last_seen = last;
        }
    }
    let mut rows: Vec<EventRow> = folded.into_values().collect();
    rows.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crashloop_is_explained() {
        let pod = json!({"metadata": {"name": "p"}, "status": {"phase": "Running", "containerStatuses": [{
            "name": "api", "restartCount": 7, "ready": false, "image": "a:latest", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}});
        let s = summarize(&pod);
        assert_eq!(s["healthy"], false);
        let problems = s["problems"].to_string();
        assert!(
            problems.contains("CrashLoopBackOff")
                && problems.contains("exited 1")
                && problems.contains("7 times"),
            "{problems}"
        );
    }

    #[test]
    fn events_fold_and_sort_newest_first() {
        let ev = |r: &str, t: &str| json!({"involvedObject": {"kind": "Pod", "name": "p"}, "reason": r, "message": "m", "lastTimestamp": t, "count": 2, "type": "Warning"});
        let rows = fold_events(&[
            ev("A", "2026-01-01T00:00:00Z"),
            ev("B", "2026-01-02T00:00:00Z"),
            ev("A", "2026-01-03T00:00:00Z"),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].reason.as_str(), rows[0].count), ("A", 4));
        assert_eq!(rows[1].reason, "B");
    }
}
