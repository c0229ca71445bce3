//! `sandbox up`: start the emulators and write an env file of the standard client variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::kube::{self, Cluster, KubeServer};

/// Everything `sandbox up` started.
pub struct Sandbox {
    pub kube: KubeServer,
    /// The directory holding the env file and kubeconfig.
    pub dir: PathBuf,
}

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Seed(#[from] kube::SeedError),
    #[error("starting an emulator: {0}")]
    Bind(std::io::Error),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl Sandbox {
    /// Starts every emulator on loopback (port 0: free ports), seeds it from `seeds` (default:
    /// the shipped seeds), and writes `kubeconfig` and `sandbox.env` into `dir`.
    pub async fn start(
        dir: &Path,
        seeds: Option<&Path>,
        kube_addr: SocketAddr,
    ) -> Result<Self, SandboxError> {
        let cluster = Arc::new(Cluster::new());
        let seeds = seeds
            .map(Path::to_path_buf)
            .unwrap_or_else(kube::default_seeds_dir);
        kube::load_dir(&cluster, &seeds)?;
        let kube = kube::spawn(cluster, kube_addr)
            .await
            .map_err(SandboxError::Bind)?;
        let sandbox = Self {
            kube,
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
        let env = format!(
            "# Written by `sandbox up`; source it: `set -a; . {}; set +a`\nKUBECONFIG={}\n",
            self.env_path().display(),
            self.kubeconfig_path().display(),
        );
        write(self.env_path(), env)
    }
}
