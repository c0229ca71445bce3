//! Kong Konnect API emulator: aggregated analytics (`/v2/metrics`), request records
//! (`/v2/api-requests`), control planes and their gateway entities, all computed from a
//! scenario against a clock tests control. Every request body is validated against the vendor
//! OpenAPI specs (invalid ones get Konnect's `application/problem+json` 400), `/v2/metrics` is
//! limited to 10 requests per minute per token (429 with `Retry-After`), and a switch answers
//! the next queries with Konnect's 408 query timeout.

mod api;
mod entities;
pub mod metrics;
pub mod requests;
pub mod scenario;
pub mod spec;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

pub use scenario::{Clock, Scenario, ScenarioError, default_scenario};

use crate::github::lock;

/// The token `sandbox up` and the tests use.
pub const TOKEN: &str = "kpat_sandboxTokenForTheKonnectEmulator0123456789";

/// One request the emulator received, with what the spec said about its body.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub body: Value,
    /// Spec violations of the body (empty: valid).
    pub problems: Vec<String>,
}

/// Shared state of the emulator.
pub struct Konnect {
    pub scenario: Scenario,
    pub clock: Clock,
    contracts: api::Contracts,
    metrics_calls: Mutex<Vec<i64>>,
    timeouts: Mutex<u32>,
    received: Mutex<Vec<Received>>,
    /// Responses that violated the spec's response schemas (should stay empty).
    response_problems: Mutex<Vec<String>>,
}

impl Konnect {
    /// An emulator over `scenario`; loads the vendor specs.
    pub fn new(scenario: Scenario) -> Result<Self, spec::SpecError> {
        Ok(Self {
            scenario,
            clock: Clock::default(),
            contracts: api::Contracts::load()?,
            metrics_calls: Mutex::new(Vec::new()),
            timeouts: Mutex::new(0),
            received: Mutex::new(Vec::new()),
            response_problems: Mutex::new(Vec::new()),
        })
    }

    /// The next `n` analytics queries answer 408 (query took longer than 10 s).
    pub fn time_out_next(&self, n: u32) {
        *lock(&self.timeouts) = n;
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    /// Responses the emulator sent that violate the vendor response schemas.
    pub fn response_problems(&self) -> Vec<String> {
        lock(&self.response_problems).clone()
    }
}

/// A running emulator.
pub struct KonnectServer {
    pub addr: SocketAddr,
    pub state: Arc<Konnect>,
    /// Fault switches in front of the emulator (see [`crate::faults`]).
    pub faults: Arc<crate::faults::Faults>,
}

impl KonnectServer {
    /// Base URL for `KONNECT_API_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error("binding the Konnect emulator: {0}")]
    Bind(#[from] std::io::Error),
}

/// Serves `state` on `addr` (port 0: a free port).
pub async fn spawn(state: Arc<Konnect>, addr: SocketAddr) -> std::io::Result<KonnectServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let faults = Arc::default();
    let app = crate::faults::layer(api::router(state.clone()), &faults);
    crate::serve_in_background(listener, app, "konnect");
    Ok(KonnectServer {
        addr,
        state,
        faults,
    })
}

/// The emulator with `scenario` (relative times from now) on `addr`.
pub async fn spawn_from(scenario: &Path, addr: SocketAddr) -> Result<KonnectServer, StartError> {
    let clock = Clock::default();
    let s = Scenario::load(scenario, clock.now())?;
    Ok(spawn(Arc::new(Konnect::new(s)?), addr).await?)
}

/// The emulator with the shipped scenario on a free loopback port.
pub async fn spawn_seeded() -> Result<KonnectServer, StartError> {
    spawn_from(&default_scenario(), SocketAddr::from(([127, 0, 0, 1], 0))).await
}
