//! Reading a PipelineRun with everything its summary needs: the referenced Pipeline, its
//! TaskRuns and the Tasks it references, each read once. What cannot be read is said, never
//! left out silently: a partial set of images must not pass for the whole set.

use std::collections::BTreeMap;

use kube::api::ListParams;
use mcp_runtime::ToolError;
use serde_json::Value;

use crate::images::{self, Found};
use crate::server::KubernetesServer;

/// A PipelineRun and what it references, as read.
pub struct Run {
    pub run: Value,
    pub pipeline: Option<Value>,
    pub taskruns: Vec<Value>,
    pub images: Found,
}

impl KubernetesServer {
    pub(crate) async fn tekton_get(
        &self,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Value, ToolError> {
        let r = self.cluster.resolve(kind, None).await?;
        self.cluster.get(&r, Some(ns), name).await
    }

    async fn taskruns_of(&self, ns: &str, pipeline_run: &str) -> Result<Vec<Value>, ToolError> {
        let r = self.cluster.resolve("taskruns.tekton.dev", None).await?;
        let lp = ListParams::default().labels(&format!("tekton.dev/pipelineRun={pipeline_run}"));
        Ok(self.cluster.list(&r, Some(ns), &lp).await?.0)
    }

    /// PipelineRun `ns/name` with its Pipeline, TaskRuns, referenced Tasks and images.
    pub(crate) async fn gather_run(&self, ns: &str, name: &str) -> Result<Run, ToolError> {
        let run = self.tekton_get("pipelineruns.tekton.dev", ns, name).await?;
        let mut gaps = Vec::new();
        let taskruns = match self.taskruns_of(ns, name).await {
            Ok(t) => t,
            Err(e) => {
                gaps.push(format!("the run's TaskRuns could not be listed ({e})"));
                Vec::new()
            }
        };
        let pipeline = match run["spec"]["pipelineRef"]["name"].as_str() {
            Some(p) if run["spec"]["pipelineRef"].get("resolver").is_none() => {
                match self.tekton_get("pipelines.tekton.dev", ns, p).await {
                    Ok(obj) => Some(obj),
                    Err(e) => {
                        gaps.push(format!("Pipeline {p} could not be read ({e})"));
                        None
                    }
                }
            }
            _ => None,
        };
        let mut tasks = BTreeMap::new();
        if let Some(spec) = images::pipeline_spec(&run, pipeline.as_ref()) {
            for t in images::pipeline_tasks(spec) {
                if let Some(task) = images::referenced_task(t)
                    && !tasks.contains_key(task)
                {
                    let read = self
                        .tekton_get("tasks.tekton.dev", ns, task)
                        .await
                        .map_err(|e| e.to_string());
                    tasks.insert(task.to_string(), read);
                }
            }
        }
        let images = images::collect(&run, pipeline.as_ref(), &taskruns, &tasks, gaps);
        Ok(Run {
            run,
            pipeline,
            taskruns,
            images,
        })
    }
}
