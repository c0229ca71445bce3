//! The approval world: Kubernetes and GitHub emulators, mcp-kubernetes and mcp-github hosted
//! over Streamable HTTP, the scripted model, and approvers built exactly as `agent-host` builds
//! them (the flow comes from `examples/agent-host.yaml`).

use std::path::PathBuf;
use std::time::Duration;

use agent_host::approval::decide::Limits;
use agent_host::approval::policy_file::PolicyFile;
use agent_host::approval::review::{Approver, ModeSetting, Settings};
use agent_host::approval::store::{Record, Store};
use agent_host::audit::{AuditLog, Metrics};
use agent_host::clock::SystemClock;
use agent_host::config::Config;
use agent_host::mcp::Pool;
use agent_host::model::{ModelSettings, OpenAiModel, RetryPolicy};
use agent_host::prompt::Prompts;
use mcp_runtime::ServerArgs;
use sandbox::model::{ModelServer, Script};
use sandbox::{github, kube as kube_emu};
use serde_json::{Value, json};

use crate::{Hosted, host};

/// A pinned image of acme/shop, as the deploy pipelines of the tests build it.
pub const DIGEST: &str = "registry.example.com/acme/shop@sha256:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";

/// The username the AI votes as.
pub const AI: &str = "system:serviceaccount:ai:ai-approver";

/// A model that approves the seeded routine change (a tokio bump with green checks).
pub fn approving_model() -> Script {
    let rules = serde_json::json!({"rules": [{"reply": {"tool_calls": [{"name": "submit_answer",
        "arguments": {"decision": "approve", "confidence": 0.92,
            "reasons": ["tokio bump from dependabot, checks green"], "evidence": ["github.pull_get"]}}]}}]});
    serde_json::from_value(rules).unwrap_or(Script { rules: Vec::new() })
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Everything running for one scenario.
pub struct World {
    pub kube: kube_emu::KubeServer,
    pub github: github::GitHubServer,
    pub model: ModelServer,
    pub kube_mcp: Hosted,
    pub github_mcp: Hosted,
    /// Slack, for the notices when a human must act (posting allowed everywhere).
    pub slack: sandbox::slack::SlackServer,
    pub slack_mcp: Hosted,
    pub dir: tempfile::TempDir,
}

type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// A kube client for one of the emulator's identities (`admin`, `ai-approver`, `alice`, `bob`).
pub async fn client_for(k: &kube_emu::KubeServer, who: &str) -> Result<::kube::Client, Boxed> {
    let kubeconfig = ::kube::config::Kubeconfig::from_yaml(&k.kubeconfig(who))?;
    let config = ::kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(::kube::Client::try_from(config)?)
}

/// [`client_for`] as `agent-host` builds the client of its single calls: each bounded (by
/// 4 s here, so a test of a hung API server ends fast).
pub async fn call_client_for(k: &kube_emu::KubeServer, who: &str) -> Result<::kube::Client, Boxed> {
    let kubeconfig = ::kube::config::Kubeconfig::from_yaml(&k.kubeconfig(who))?;
    let mut config =
        ::kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    agent_host::cluster::bounded(&mut config);
    config.read_timeout = Some(Duration::from_secs(4));
    Ok(::kube::Client::try_from(config)?)
}

/// A committed, not yet applied approve of entry 1 of task `ci/NAME` (what a crash between the
/// commit and the vote leaves), decided as a co-approver.
pub fn committed_approve(audit_id: &str, name: &str, uid: &str) -> Record {
    Record {
        audit_id: audit_id.into(),
        namespace: "ci".into(),
        name: name.into(),
        uid: uid.into(),
        pipeline: "build-and-deploy".into(),
        model: "scripted".into(),
        action: "approve".into(),
        reason: "routine".into(),
        entry: Some(1),
        may_complete: false,
        applied: None,
        reward: None,
        decided_at: jiff::Timestamp::now().to_string(),
    }
}

/// The agent host's model client pointed at the scripted model, without retries.
pub fn scripted_model(url: &str) -> Result<OpenAiModel, Boxed> {
    Ok(OpenAiModel::new(ModelSettings {
        base_url: url.to_string(),
        api_key: "sk-test".into(),
        model: "scripted".into(),
        timeout: Duration::from_secs(10),
        stream: false,
        retry: RetryPolicy {
            max_retries: 0,
            base: Duration::from_millis(10),
            max_wait: Duration::from_secs(1),
        },
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(60),
        cap_param: Default::default(),
    })?)
}

impl World {
    /// Starts the world with `script` for the model and `policy` (YAML) as the policy file.
    pub async fn start(script: Script, policy: &str) -> Result<Self, Boxed> {
        mcp_runtime::telemetry::install_crypto_provider();
        let kube = kube_emu::spawn_seeded().await?;
        let github = github::spawn_seeded().await?;
        let model = sandbox::model::spawn(script).await?;
        let cluster = mcp_kubernetes::cluster::Cluster::new(
            client_for(&kube, "ai-approver").await?,
            mcp_kubernetes::cluster::Scoping {
                namespaces: vec![],
                denied_kinds: vec![],
                identity: Some(AI.to_string()),
            },
        );
        let args = ServerArgs {
            read_only: true,
            ..ServerArgs::default()
        };
        let kube_mcp = host(mcp_kubernetes::KubernetesServer::new(cluster), &args).await?;
        let gh = mcp_github::client::GitHub::new(
            &github.url(),
            Some(github::TOKEN.to_string()),
            Duration::from_secs(5),
        )?;
        let github_mcp = host(
            mcp_github::GitHubServer::new(
                gh,
                mcp_github::scope::Scope::new(vec!["acme/shop".into()]),
                false,
            ),
            &args,
        )
        .await?;
        let slack = sandbox::slack::spawn_seeded().await?;
        let slack_mcp = crate::host_slack(&slack).await?;
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("policy.yaml"), policy)?;
        Ok(Self {
            slack,
            slack_mcp,
            kube,
            github,
            model,
            kube_mcp,
            github_mcp,
            dir,
        })
    }

    /// The agent host's pool over both servers.
    pub fn pool(&self) -> Pool {
        crate::pool(&[
            ("kubernetes", &self.kube_mcp),
            ("github", &self.github_mcp),
            ("slack", &self.slack_mcp),
        ])
    }

    /// The audit log of this world.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// An approver as `agent-host` builds one, voting as [`AI`].
    pub async fn approver(
        &self,
        mode: ModeSetting,
        dry_run: bool,
    ) -> Result<Approver<OpenAiModel, Pool, SystemClock>, Boxed> {
        self.approver_with(scripted_model(&self.model.url())?, mode, dry_run)
            .await
    }

    /// [`World::approver`] with another model (a real server, in the opt-in checks).
    pub async fn approver_with<M: agent_host::model::Model>(
        &self,
        model: M,
        mode: ModeSetting,
        dry_run: bool,
    ) -> Result<Approver<M, Pool, SystemClock>, Boxed> {
        let cfg = Config::load(&root().join("examples/agent-host.yaml"))?;
        let flow = cfg.flow("approval")?.clone();
        let client = call_client_for(&self.kube, "ai-approver").await?;
        Ok(Approver {
            model,
            tools: self.pool(),
            kube: client.clone(),
            store: Store::new(client, "ai"),
            policy: PolicyFile::open(self.dir.path().join("policy.yaml"))?,
            prompts: Prompts::new(root().join("prompts")),
            audit: AuditLog::new(Some(self.audit_path()), Default::default()),
            metrics: std::sync::Arc::new(Metrics::default()),
            clock: SystemClock,
            settings: Settings {
                identity: AI.into(),
                mode,
                limits: Limits {
                    min_confidence: 0.8,
                    min_seconds_left: 120,
                },
                dry_run,
                notify_channel: None,
                model_name: "scripted".into(),
                flow,
                structured_output: false,
                temperature: None,
            },
        })
    }

    /// Creates a PipelineRun building `revision` of acme/shop into `image`, and its pending
    /// ApprovalTask `name` (started now) with `approvers` (User names) and `required`.
    pub fn create_task(
        &self,
        name: &str,
        revision: &str,
        image: &str,
        approvers: &[&str],
        required: u32,
    ) -> Result<Value, Boxed> {
        let entries: Vec<Value> = approvers
            .iter()
            .map(|a| json!({"name": a, "type": "User", "input": "pending"}))
            .collect();
        self.create_task_with(name, revision, image, entries, required)
    }

    /// [`World::create_task`] with the approver entries as they stand in the spec (groups).
    pub fn create_task_with(
        &self,
        name: &str,
        revision: &str,
        image: &str,
        entries: Vec<Value>,
        required: u32,
    ) -> Result<Value, Boxed> {
        let description = format!("Deploy {revision}");
        self.create_described(name, revision, image, entries, required, &description)
    }

    /// [`World::create_task_with`] with the task's description as a pipeline author wrote it.
    pub fn create_described(
        &self,
        name: &str,
        revision: &str,
        image: &str,
        entries: Vec<Value>,
        required: u32,
        description: &str,
    ) -> Result<Value, Boxed> {
        let spec = json!({"pipelineRef": {"name": "build-and-deploy"}, "params": [
            {"name": "git-url", "value": "https://github.com/acme/shop.git"},
            {"name": "git-revision", "value": revision},
            {"name": "image", "value": image}]});
        self.create_on_run(name, spec, entries, required, description)
    }

    /// A pending task `name` in `ci` whose PipelineRun (`NAME-run`) has `run_spec` as its
    /// spec (an embedded pipeline, other params), with its gate's CustomRun.
    pub fn create_on_run(
        &self,
        name: &str,
        run_spec: Value,
        entries: Vec<Value>,
        required: u32,
        description: &str,
    ) -> Result<Value, Boxed> {
        let run = format!("{name}-run");
        let now = jiff::Timestamp::now().to_string();
        self.kube.cluster.create_raw(json!({
            "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
            "metadata": {"name": run, "namespace": "ci", "labels": {"tekton.dev/pipeline": "build-and-deploy"}},
            "spec": run_spec,
            "status": {"startTime": now, "conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}]},
        }))?;
        // The gate's CustomRun, which owns the ApprovalTask of the same name and carries its
        // timeout (without it the deadline is unknown and the AI stays out).
        self.kube.cluster.create_raw(json!({
            "apiVersion": "tekton.dev/v1beta1", "kind": "CustomRun",
            "metadata": {"name": name, "namespace": "ci", "labels": {
                "tekton.dev/pipeline": "build-and-deploy", "tekton.dev/pipelineRun": run,
                "tekton.dev/pipelineTask": "approve-deploy"}},
            "spec": {"customRef": {"apiVersion": "openshift-pipelines.org/v1alpha1", "kind": "ApprovalTask"},
                "timeout": "1h0m0s"},
            "status": {"startTime": now},
        }))?;
        Ok(self.kube.cluster.create_raw(json!({
            "apiVersion": "openshift-pipelines.org/v1alpha1", "kind": "ApprovalTask",
            "metadata": {"name": name, "namespace": "ci", "labels": {
                "tekton.dev/pipeline": "build-and-deploy", "tekton.dev/pipelineRun": run,
                "tekton.dev/pipelineTask": "approve-deploy", "tekton.dev/customRun": name}},
            "spec": {"numberOfApprovalsRequired": required, "description": description,
                "approvers": entries},
            "status": {"state": "pending", "startTime": now},
        }))?)
    }

    /// The `input` of the AI's own approver entry of task `name` in `ci`, as it is now.
    pub fn ai_input(&self, name: &str) -> Result<Value, Boxed> {
        let t = self.task(name)?;
        t["spec"]["approvers"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["name"] == AI))
            .map(|e| e["input"].clone())
            .ok_or_else(|| format!("{AI} is not an approver of {name}").into())
    }

    /// The ApprovalTask `name` in `ci` as the cluster holds it now.
    pub fn task(&self, name: &str) -> Result<Value, Boxed> {
        let rt = self
            .kube
            .cluster
            .resolve("openshift-pipelines.org", "v1alpha1", "approvaltasks")
            .ok_or("approvaltasks are not served")?;
        Ok(self.kube.cluster.get(&rt, "ci", name)?)
    }

    /// Objects of a core kind in a namespace (`configmaps`, `events`).
    pub fn core_list(&self, plural: &str, namespace: &str) -> Result<Vec<Value>, Boxed> {
        let rt = self
            .kube
            .cluster
            .resolve("", "v1", plural)
            .ok_or("kind not served")?;
        let (all, _, _) = self.kube.cluster.list(&rt, &Default::default())?;
        Ok(all
            .into_iter()
            .filter(|o| o["metadata"]["namespace"] == namespace)
            .collect())
    }

    /// The head commit of acme/shop's default branch (what the PR #42 merge produced).
    pub fn shop_head(&self) -> Result<String, Boxed> {
        Ok(self
            .github
            .state
            .with_repo("acme/shop", |r| r.resolve("main"))
            .flatten()
            .ok_or("acme/shop has no main")?)
    }

    /// Model requests received so far.
    pub fn model_calls(&self) -> usize {
        self.model.state.requests().len()
    }

    /// A group member votes as `tkn-approvaltask` does (`pkg/actions/actions.go`, `update`):
    /// the group entry's input and message set, the member appended to its `users`, the whole
    /// object sent back with an update.
    pub async fn group_vote(
        &self,
        who: &str,
        name: &str,
        group: &str,
        input: &str,
    ) -> Result<(), Boxed> {
        let client = client_for(&self.kube, who).await?;
        let api: ::kube::Api<::kube::api::DynamicObject> = ::kube::Api::namespaced_with(
            client,
            "ci",
            &agent_host::approval::apply::approval_tasks(),
        );
        let mut task = serde_json::to_value(api.get(name).await?)?;
        let entry = task["spec"]["approvers"]
            .as_array_mut()
            .and_then(|a| {
                a.iter_mut()
                    .find(|e| e["name"] == group && e["type"] == "Group")
            })
            .ok_or("no such group entry")?;
        entry["input"] = json!(input);
        entry["message"] = json!(format!("{who} via {group}"));
        if !entry["users"].is_array() {
            entry["users"] = json!([]);
        }
        if let Some(users) = entry["users"].as_array_mut() {
            users.push(
                json!({"name": who, "input": input, "message": format!("{who} via {group}")}),
            );
        }
        let obj: ::kube::api::DynamicObject = serde_json::from_value(task)?;
        api.replace(name, &Default::default(), &obj).await?;
        Ok(())
    }

    /// A human votes on their own entry, as `tkn-approvaltask` would (through the API).
    pub async fn human_vote(
        &self,
        who: &str,
        name: &str,
        input: &str,
        message: &str,
    ) -> Result<(), Boxed> {
        let task = self.task(name)?;
        let index = task["spec"]["approvers"]
            .as_array()
            .and_then(|a| a.iter().position(|e| e["name"] == who))
            .ok_or("not an approver")?;
        let client = client_for(&self.kube, who).await?;
        let api: ::kube::Api<::kube::api::DynamicObject> = ::kube::Api::namespaced_with(
            client,
            "ci",
            &agent_host::approval::apply::approval_tasks(),
        );
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "replace", "path": format!("/spec/approvers/{index}/input"), "value": input},
            {"op": "add", "path": format!("/spec/approvers/{index}/message"), "value": message},
        ]))?;
        api.patch(
            name,
            &Default::default(),
            &::kube::api::Patch::Json::<()>(patch),
        )
        .await?;
        Ok(())
    }
}
