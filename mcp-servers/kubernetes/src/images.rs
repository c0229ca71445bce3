//! Every image a PipelineRun runs or deploys, from every place Tekton takes one: the run's
//! params and the Pipeline's defaults (image-named), each pipeline task's params, the steps,
//! step template and sidecars of its Task (referenced and read through the API, or embedded),
//! and what ran (TaskRun params, step and sidecar image ids, the Task spec the controller
//! resolved). `$(params.x)` and `$(tasks.t.results.r)` are substituted as Tekton would; what
//! cannot be resolved (a remote resolver not run yet, an unreadable Task, a reference left
//! over) is listed as unresolved, so an incomplete set is never mistaken for a complete one.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::format::split_image;
use crate::tekton::params;

/// The images found and what could not be resolved.
#[derive(Debug, Default)]
pub struct Found {
    /// `{ref, repository, tag, digest, source}` per distinct reference.
    pub images: Vec<Value>,
    /// Why the set may be incomplete (one sentence per gap).
    pub unresolved: Vec<String>,
}

impl Found {
    fn add(&mut self, reference: &str, source: &str) {
        let reference = reference.trim().trim_start_matches("docker-pullable://");
        if reference.is_empty() || self.images.iter().any(|i| i["ref"] == reference) {
            return;
        }
        if reference.contains("$(") {
            self.unresolved
                .push(format!("{source}: `{reference}` is not resolved yet"));
            return;
        }
        let (repo, tag, digest) = split_image(reference);
        self.images.push(
            json!({"ref": reference, "repository": repo, "tag": tag, "digest": digest, "source": source}),
        );
    }
}

/// Whether a param's name says it holds an image (`image`, `IMAGE`, `*-image`, `*_image`).
pub fn is_image_param(name: &str) -> bool {
    let n = name.to_lowercase();
    n == "image" || n.ends_with("-image") || n.ends_with("_image")
}

/// The pipeline spec a run executes: the referenced Pipeline's, else the embedded one, else
/// the one the controller resolved into the run's status.
pub fn pipeline_spec<'a>(pr: &'a Value, pipeline: Option<&'a Value>) -> Option<&'a Value> {
    pipeline
        .map(|p| &p["spec"])
        .or_else(|| pr["spec"].get("pipelineSpec"))
        .or_else(|| pr["status"].get("pipelineSpec"))
        .filter(|s| s.is_object())
}

/// Every task of a pipeline spec, `finally` ones included.
pub fn pipeline_tasks(spec: &Value) -> impl Iterator<Item = &Value> {
    ["tasks", "finally"]
        .into_iter()
        .flat_map(move |k| spec[k].as_array().into_iter().flatten())
}

/// The Task a pipeline task references by name in the run's namespace (`None`: embedded, a
/// custom task such as an ApprovalTask, or a remote resolver).
pub fn referenced_task(t: &Value) -> Option<&str> {
    let r = &t["taskRef"];
    let kind = r["kind"].as_str().unwrap_or("Task");
    let custom = r["apiVersion"]
        .as_str()
        .is_some_and(|v| !v.starts_with("tekton.dev/"));
    (kind == "Task" && !custom && r.get("resolver").is_none())
        .then(|| r["name"].as_str())
        .flatten()
}

/// The effective pipeline params: the Pipeline's defaults overridden by the run's values.
pub(crate) fn pipeline_params(pr: &Value, spec: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(spec) = spec {
        for p in spec["params"].as_array().into_iter().flatten() {
            if let (Some(name), Some(default)) = (p["name"].as_str(), p.get("default")) {
                out.insert(name.to_string(), default.clone());
            }
        }
    }
    out.extend(params(&pr["spec"]["params"]));
    out
}

/// `text` with `$(params.x)` (and `$(params["x"])`) from `params` and
/// `$(tasks.t.results.r)` from the finished TaskRuns substituted.
pub(crate) fn substitute(text: &str, params: &Map<String, Value>, taskruns: &[Value]) -> String {
    let mut out = text.to_string();
    for (name, value) in params {
        if let Some(v) = value.as_str() {
            for form in [
                format!("$(params.{name})"),
                format!("$(params[\"{name}\"])"),
                format!("$(params['{name}'])"),
            ] {
                out = out.replace(&form, v);
            }
        }
    }
    for tr in taskruns {
        let Some(task) = tr["metadata"]["labels"]["tekton.dev/pipelineTask"].as_str() else {
            continue;
        };
        for r in tr["status"]["results"].as_array().into_iter().flatten() {
            if let (Some(name), Some(v)) = (r["name"].as_str(), r["value"].as_str()) {
                out = out.replace(&format!("$(tasks.{task}.results.{name})"), v);
            }
        }
    }
    out
}

/// The images of a Task spec (steps, step template, sidecars) with its params substituted.
fn spec_images(
    found: &mut Found,
    spec: &Value,
    params: &Map<String, Value>,
    taskruns: &[Value],
    source: &str,
) {
    let mut p = Map::new();
    for d in spec["params"].as_array().into_iter().flatten() {
        if let (Some(name), Some(default)) = (d["name"].as_str(), d.get("default")) {
            p.insert(name.to_string(), default.clone());
        }
    }
    p.extend(params.clone());
    if let Some(i) = spec["stepTemplate"]["image"].as_str() {
        found.add(
            &substitute(i, &p, taskruns),
            &format!("{source} step template"),
        );
    }
    for (kind, list) in [("step", &spec["steps"]), ("sidecar", &spec["sidecars"])] {
        for s in list.as_array().into_iter().flatten() {
            if let Some(i) = s["image"].as_str() {
                let name = s["name"].as_str().unwrap_or("?");
                found.add(
                    &substitute(i, &p, taskruns),
                    &format!("{source} {kind} {name}"),
                );
            }
        }
    }
}

/// Every image of run `pr` (see the module's comment). `tasks` holds each referenced Task
/// by name as read (or why it could not be); `gaps` are what the caller could not read.
pub fn collect(
    pr: &Value,
    pipeline: Option<&Value>,
    taskruns: &[Value],
    tasks: &BTreeMap<String, Result<Value, String>>,
    gaps: Vec<String>,
) -> Found {
    let mut found = Found {
        unresolved: gaps,
        ..Found::default()
    };
    let spec = pipeline_spec(pr, pipeline);
    let pp = pipeline_params(pr, spec);
    for (k, v) in &pp {
        if let (true, Some(s)) = (is_image_param(k), v.as_str()) {
            found.add(
                &substitute(s, &pp, taskruns),
                &format!("pipeline param {k}"),
            );
        }
    }
    let ran = |name: &str| {
        taskruns
            .iter()
            .find(|tr| tr["metadata"]["labels"]["tekton.dev/pipelineTask"] == name)
    };
    match spec {
        None => found
            .unresolved
            .push("the run's pipeline spec could not be read".into()),
        Some(spec) => {
            for t in pipeline_tasks(spec) {
                let name = t["name"].as_str().unwrap_or("?");
                let source = format!("task {name}");
                let mut tp = Map::new();
                for p in t["params"].as_array().into_iter().flatten() {
                    if let (Some(n), Some(v)) = (p["name"].as_str(), p["value"].as_str()) {
                        let v = substitute(v, &pp, taskruns);
                        if is_image_param(n) {
                            found.add(&v, &format!("{source} param {n}"));
                        }
                        tp.insert(n.to_string(), Value::String(v));
                    }
                }
                let resolved = ran(name).and_then(|tr| tr["status"].get("taskSpec"));
                if let Some(embedded) = t.get("taskSpec") {
                    spec_images(&mut found, embedded, &tp, taskruns, &source);
                } else if let Some(task) = referenced_task(t) {
                    match tasks.get(task) {
                        Some(Ok(obj)) => {
                            spec_images(&mut found, &obj["spec"], &tp, taskruns, &source)
                        }
                        Some(Err(why)) => found
                            .unresolved
                            .push(format!("{source}: Task {task} could not be read ({why})")),
                        None => found
                            .unresolved
                            .push(format!("{source}: Task {task} was not read")),
                    }
                } else if let Some(resolver) = t["taskRef"]["resolver"].as_str() {
                    match resolved {
                        Some(s) => spec_images(&mut found, s, &tp, taskruns, &source),
                        None => found.unresolved.push(format!(
                            "{source}: its Task comes from the {resolver} resolver and has not been resolved yet"
                        )),
                    }
                }
            }
        }
    }
    for tr in taskruns {
        let task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
            .as_str()
            .or(tr["metadata"]["name"].as_str())
            .unwrap_or("?");
        let trp = params(&tr["spec"]["params"]);
        for (k, v) in &trp {
            if let (true, Some(s)) = (is_image_param(k), v.as_str()) {
                found.add(s, &format!("taskrun {task} param {k}"));
            }
        }
        for (kind, list) in [
            ("step", &tr["status"]["steps"]),
            ("sidecar", &tr["status"]["sidecars"]),
        ] {
            for s in list.as_array().into_iter().flatten() {
                if let Some(id) = s["imageID"].as_str().filter(|s| !s.is_empty()) {
                    let name = s["name"].as_str().unwrap_or("?");
                    found.add(id, &format!("taskrun {task} {kind} {name}"));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: &str = "r.example/app@sha256:aa";

    fn refs(f: &Found) -> Vec<&str> {
        f.images.iter().filter_map(|i| i["ref"].as_str()).collect()
    }

    fn run(spec: Value, run_params: Value) -> Value {
        json!({"spec": {"pipelineSpec": spec, "params": run_params}})
    }

    #[test]
    fn each_source_is_found() {
        let none = BTreeMap::new();
        // A Pipeline param default.
        let f = collect(
            &run(
                json!({"params": [{"name": "image", "default": "r.example/a:1"}]}),
                json!([]),
            ),
            None,
            &[],
            &none,
            vec![],
        );
        assert_eq!(refs(&f), ["r.example/a:1"]);
        // A pipeline task's param, substituted from the run's params.
        let spec = json!({"params": [{"name": "tag"}], "tasks": [{"name": "deploy", "taskRef": {"name": "x"},
            "params": [{"name": "IMAGE", "value": "r.example/b:$(params.tag)"}]}]});
        let tasks = BTreeMap::from([("x".to_string(), Ok(json!({"spec": {}})))]);
        let f = collect(
            &run(spec, json!([{"name": "tag", "value": "2"}])),
            None,
            &[],
            &tasks,
            vec![],
        );
        assert_eq!(refs(&f), ["r.example/b:2"]);
        // An embedded step, step template and sidecar, with the task's param.
        let spec = json!({"tasks": [{"name": "t", "params": [{"name": "v", "value": "3"}], "taskSpec": {
            "params": [{"name": "v"}], "stepTemplate": {"image": "r.example/tpl:1"},
            "steps": [{"name": "s", "image": "r.example/c:$(params.v)"}],
            "sidecars": [{"name": "db", "image": "r.example/db:latest"}]}}]});
        let f = collect(&run(spec, json!([])), None, &[], &none, vec![]);
        assert_eq!(
            refs(&f),
            ["r.example/tpl:1", "r.example/c:3", "r.example/db:latest"]
        );
        // A Task that has not run yet, read through the API, with a default.
        let spec = json!({"finally": [{"name": "notify", "taskRef": {"name": "slack"}}]});
        let tasks = BTreeMap::from([(
            "slack".to_string(),
            Ok(
                json!({"spec": {"params": [{"name": "img", "default": PINNED}],
                "steps": [{"name": "post", "image": "$(params.img)"}]}}),
            ),
        )]);
        let f = collect(&run(spec, json!([])), None, &[], &tasks, vec![]);
        assert_eq!(refs(&f), [PINNED]);
        assert!(f.unresolved.is_empty());
        // A TaskRun's params and its step and sidecar image ids.
        let tr = json!({"metadata": {"name": "r-build", "labels": {"tekton.dev/pipelineTask": "build"}},
            "spec": {"params": [{"name": "BUILDER_IMAGE", "value": "r.example/builder:9"}]},
            "status": {"steps": [{"name": "b", "imageID": "docker-pullable://r.example/s@sha256:bb"}],
                "sidecars": [{"name": "d", "imageID": "r.example/dind@sha256:cc"}]}});
        let f = collect(&run(json!({}), json!([])), None, &[tr], &none, vec![]);
        assert_eq!(
            refs(&f),
            [
                "r.example/builder:9",
                "r.example/s@sha256:bb",
                "r.example/dind@sha256:cc"
            ]
        );
    }

    #[test]
    fn what_cannot_be_resolved_is_said() {
        let spec = json!({"tasks": [
            {"name": "a", "taskRef": {"name": "gone"}},
            {"name": "b", "taskRef": {"resolver": "bundles"}},
            {"name": "c", "params": [{"name": "IMAGE", "value": "$(tasks.build.results.IMAGE_URL)"}],
                "taskRef": {"apiVersion": "openshift-pipelines.org/v1alpha1", "kind": "ApprovalTask"}},
        ]});
        let tasks = BTreeMap::from([("gone".to_string(), Err("403".to_string()))]);
        let f = collect(&run(spec.clone(), json!([])), None, &[], &tasks, vec![]);
        assert!(f.images.is_empty());
        assert_eq!(f.unresolved.len(), 3, "{:?}", f.unresolved);
        // Once the build ran, its result resolves the reference.
        let tr = json!({"metadata": {"labels": {"tekton.dev/pipelineTask": "build"}},
            "status": {"results": [{"name": "IMAGE_URL", "value": PINNED}]}});
        let f = collect(&run(spec, json!([])), None, &[tr], &tasks, vec![]);
        assert_eq!(refs(&f), [PINNED]);
        // No spec at all.
        let f = collect(&json!({"spec": {}}), None, &[], &BTreeMap::new(), vec![]);
        assert_eq!(f.unresolved.len(), 1);
    }
}
