//! `sandbox up`: start the emulators and write an env file of the standard client variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::github::{self, GitHubServer};
use crate::konnect::{self, KonnectServer};
use crate::kube::{self, Cluster, KubeServer};
use crate::slack::{self, SlackServer};

/// Where `sandbox up` listens and what it loads (defaults: free loopback ports, shipped seeds).
#[derive(Debug, Clone)]
pub struct Options {
    pub kube_seeds: Option<PathBuf>,
    pub kube_addr: SocketAddr,
    pub github_seeds: Option<PathBuf>,
    pub github_addr: SocketAddr,
    pub konnect_scenario: Option<PathBuf>,
    pub konnect_addr: SocketAddr,
    pub slack_workspace: Option<PathBuf>,
    pub slack_addr: SocketAddr,
}

impl Default for Options {
    fn default() -> Self {
        let free = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            kube_seeds: None,
            kube_addr: free,
            github_seeds: None,
            github_addr: free,
            konnect_scenario: None,
            konnect_addr: free,
            slack_workspace: None,
            slack_addr: free,
        }
    }
}

/// Everything `sandbox up` started.
pub struct Sandbox {
    pub kube: KubeServer,
    pub github: GitHubServer,
    pub konnect: KonnectServer,
    pub slack: SlackServer,
    /// The scripted model, answering the demo's two stories.
    pub model: crate::model::ModelServer,
    /// The directory holding the env file and kubeconfig.
    pub dir: PathBuf,
}

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Seed(#[from] kube::SeedError),
    #[error(transparent)]
    GitHubSeed(#[from] github::SeedError),
    #[error(transparent)]
    Konnect(#[from] konnect::StartError),
    #[error(transparent)]
    Slack(#[from] slack::StartError),
    #[error("starting an emulator: {0}")]
    Bind(std::io::Error),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl Sandbox {
    /// Starts every emulator, seeds them, and writes `kubeconfig` and `sandbox.env` into `dir`.
    pub async fn start(dir: &Path, opts: &Options) -> Result<Self, SandboxError> {
        let cluster = Arc::new(Cluster::new());
        let seeds = opts
            .kube_seeds
            .clone()
            .unwrap_or_else(kube::default_seeds_dir);
        kube::load_dir(&cluster, &seeds)?;
        // The seeds carry fixed times; a pending task must have time left to be decided on.
        crate::demo::refresh_pending_tasks(&cluster);
        let kube = kube::spawn(cluster, opts.kube_addr)
            .await
            .map_err(SandboxError::Bind)?;
        let github_seeds = opts
            .github_seeds
            .clone()
            .unwrap_or_else(github::default_seeds_dir);
        let github = github::spawn_from(&github_seeds, github::now(), opts.github_addr).await?;
        let scenario = opts
            .konnect_scenario
            .clone()
            .unwrap_or_else(konnect::default_scenario);
        let konnect = konnect::spawn_from(&scenario, opts.konnect_addr).await?;
        let workspace = opts
            .slack_workspace
            .clone()
            .unwrap_or_else(slack::default_workspace);
        let slack = slack::spawn_from(&workspace, opts.slack_addr).await?;
        let script =
            crate::demo::model_script(&crate::demo::kong_culprit(&github).unwrap_or_default());
        let model = crate::model::spawn(script)
            .await
            .map_err(SandboxError::Bind)?;
        let sandbox = Self {
            kube,
            github,
            konnect,
            slack,
            model,
            dir: dir.to_path_buf(),
        };
        sandbox.write_files()?;
        Ok(sandbox)
    }

    /// Path of the kubeconfig (current context: `admin`).
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Path of the env file.
    pub fn env_path(&self) -> PathBuf {
        self.dir.join("sandbox.env")
    }

    fn write_files(&self) -> Result<(), SandboxError> {
        let write = |path: PathBuf, text: String| {
            std::fs::create_dir_all(&self.dir)
                .and_then(|_| std::fs::write(&path, text))
                .map_err(|source| SandboxError::Write {
                    path: path.display().to_string(),
                    source,
                })
        };
        write(self.kubeconfig_path(), self.kube.kubeconfig("admin"))?;
        write(
            self.dir.join("kubeconfig-ai-approver"),
            self.kube.kubeconfig("ai-approver"),
        )?;
        let env = format!(
            "# Written by `sandbox up`; source it: `set -a; . {}; set +a`\nKUBECONFIG={}\n\
             GITHUB_API_URL={}\nGITHUB_PERSONAL_ACCESS_TOKEN={}\n\
             KONNECT_API_URL={}\nKONNECT_ACCESS_TOKEN={}\n\
             SLACK_API_URL={}\nSLACK_BOT_TOKEN={}\nSLACK_TEAM_ID=T0SANDBOX\n\
             SANDBOX_MODEL_URL={}\nSANDBOX_AI_KUBECONFIG={}\n",
            self.env_path().display(),
            self.kubeconfig_path().display(),
            self.github.url(),
            github::TOKEN,
            self.konnect.url(),
            konnect::TOKEN,
            self.slack.url(),
            slack::BOT_TOKEN,
            self.model.url(),
            self.dir.join("kubeconfig-ai-approver").display(),
        );
        write(self.env_path(), env)
    }
}
