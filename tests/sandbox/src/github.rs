//! GitHub REST API emulator: a real git object store per repository (seeded from a directory
//! of files plus a scripted history), the REST endpoints the GitHub MCP server and the flows
//! use, GitHub's error shapes and status codes, and primary/secondary rate limits that tests can
//! exhaust.

mod api;
pub mod git;
mod git_api;
pub mod json;
mod pulls_api;
pub mod repo;
pub mod seed;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub use seed::{SeedError, default_seeds_dir};

use repo::Repo;

/// The token `sandbox up` and the tests use.
pub const TOKEN: &str = "ghp_sandboxTokenForTheGitHubEmulator01";

/// Rate-limit state shared by all tokens (the emulator has one user).
#[derive(Debug, Clone)]
pub struct Limits {
    pub limit: u64,
    pub remaining: u64,
    /// Epoch seconds when `remaining` resets.
    pub reset: i64,
    /// The next this many requests get a secondary-limit 403 with `retry-after`.
    pub secondary_hits: u32,
    pub retry_after_secs: u64,
    /// Length of a quota window (GitHub: an hour).
    pub window_secs: i64,
}

/// Shared state of the emulator.
pub struct GitHub {
    repos: Mutex<BTreeMap<String, Repo>>,
    base: OnceLock<String>,
    tokens: Vec<String>,
    limits: Mutex<Limits>,
    requests: Mutex<Vec<String>>,
}

/// Locks a mutex; a panic in another holder does not poison the emulator.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl GitHub {
    /// An emulator holding `repos`, accepting [`TOKEN`].
    pub fn new(repos: Vec<Repo>) -> Self {
        Self {
            repos: Mutex::new(repos.into_iter().map(|r| (r.full_name(), r)).collect()),
            base: OnceLock::new(),
            tokens: vec![TOKEN.to_string()],
            limits: Mutex::new(Limits {
                limit: 5000,
                remaining: 5000,
                reset: now() + 3600,
                secondary_hits: 0,
                retry_after_secs: 0,
                window_secs: 3600,
            }),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a repository (`owner/name`).
    pub fn with_repo<T>(&self, full_name: &str, f: impl FnOnce(&mut Repo) -> T) -> Option<T> {
        lock(&self.repos).get_mut(full_name).map(f)
    }

    /// Uses up the primary quota; it resets in `reset_in_secs`.
    pub fn exhaust_quota(&self, reset_in_secs: i64) {
        let mut l = lock(&self.limits);
        l.remaining = 0;
        l.reset = now() + reset_in_secs;
    }

    /// A primary quota of `limit` requests per `window_secs` (GitHub: 5,000 an hour), the
    /// current window ending in `window_secs` with `limit` left: a benchmark's time scale.
    pub fn set_quota(&self, limit: u64, window_secs: i64) {
        let mut l = lock(&self.limits);
        l.limit = limit;
        l.remaining = limit;
        l.window_secs = window_secs;
        l.reset = now() + window_secs;
    }

    /// The next `hits` requests get a secondary rate limit 403 with `retry-after`.
    pub fn secondary_limit(&self, hits: u32, retry_after_secs: u64) {
        let mut l = lock(&self.limits);
        l.secondary_hits = hits;
        l.retry_after_secs = retry_after_secs;
    }

    /// Every request served so far as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }

    fn base(&self) -> &str {
        self.base.get().map(String::as_str).unwrap_or("")
    }
}

/// A running emulator.
pub struct GitHubServer {
    pub addr: SocketAddr,
    pub state: Arc<GitHub>,
    /// Fault switches in front of the emulator (see [`crate::faults`]).
    pub faults: Arc<crate::faults::Faults>,
}

impl GitHubServer {
    /// Base URL for `GITHUB_API_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Serves `state` on `addr` (port 0: a free port).
pub async fn spawn(state: Arc<GitHub>, addr: SocketAddr) -> std::io::Result<GitHubServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let _ = state.base.set(format!("http://{addr}"));
    let faults = Arc::default();
    let app = crate::faults::layer(api::router(state.clone()), &faults);
    crate::serve_in_background(listener, app, "github");
    Ok(GitHubServer {
        addr,
        state,
        faults,
    })
}

/// The emulator with the shipped seeds on a free loopback port.
pub async fn spawn_seeded() -> Result<GitHubServer, SeedError> {
    spawn_from(
        &default_seeds_dir(),
        now(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
}

/// The emulator seeded from `dir` with relative times counted back from `now`.
pub async fn spawn_from(dir: &Path, now: i64, addr: SocketAddr) -> Result<GitHubServer, SeedError> {
    let repos = seed::load_dir(dir, now)?;
    spawn(Arc::new(GitHub::new(repos)), addr)
        .await
        .map_err(|source| SeedError::Read {
            path: addr.to_string(),
            source,
        })
}
