//! The scenario the Konnect emulator serves: control planes with their gateway entities, the
//! traffic each route receives, and events ("from T, route X answers 503 to 100% of requests").
//! Metrics and request records are both computed from it, minute by minute, against a clock
//! the tests control, so they agree with each other and with the scenario.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use serde::Deserialize;
use serde_json::Value;

/// Seconds since the epoch, possibly shifted by tests.
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Now, in epoch seconds.
    pub fn now(&self) -> i64 {
        jiff::Timestamp::now().as_second() + self.offset.load(Ordering::Relaxed)
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }
}

/// A plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plugin {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub config: Value,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A route of a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub id: String,
    pub name: String,
    pub paths: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub plugins: Vec<Plugin>,
}

/// A gateway service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub host: String,
    #[serde(default = "port")]
    pub port: u16,
    #[serde(default = "http")]
    pub protocol: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub plugins: Vec<Plugin>,
}

fn port() -> u16 {
    80
}
fn http() -> String {
    "http".into()
}

/// A consumer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A control plane and its entities.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlane {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    /// Global plugins.
    #[serde(default)]
    pub plugins: Vec<Plugin>,
}

/// Steady traffic of one route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub route: String,
    pub rpm: u32,
    #[serde(default = "latency")]
    pub latency_ms: u32,
    /// Share of requests answered 404.
    #[serde(default)]
    pub client_errors: f64,
    #[serde(default)]
    pub consumer: Option<String>,
}

fn latency() -> u32 {
    40
}

/// A change of behaviour of one route from `from` (until `until`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub route: String,
    /// `-2h`-style offset from the scenario's start, or RFC 3339.
    pub from: String,
    #[serde(default)]
    pub until: Option<String>,
    pub status: u16,
    /// Share of the route's requests answered with `status` (0..=1).
    pub ratio: f64,
    #[serde(default)]
    pub latency_ms: Option<u32>,
    /// The route's requests per minute while the event lasts (a lull or a burst), instead of
    /// its traffic's `rpm`.
    #[serde(default)]
    pub rpm: Option<u32>,
}

/// The whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub control_planes: Vec<ControlPlane>,
    #[serde(default)]
    pub traffic: Vec<Traffic>,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// A route with everything metrics group by.
#[derive(Debug, Clone)]
pub struct RouteRef {
    pub cp: String,
    pub route_id: String,
    pub route_name: String,
    pub service_id: String,
    pub service_name: String,
    pub path: String,
    pub method: String,
    pub consumer: Option<String>,
}

/// Requests of one route in one minute, by status, with latencies.
#[derive(Debug, Clone, Default)]
pub struct Minute {
    /// (status, count, response latency ms)
    pub by_status: Vec<(u16, u64, u32)>,
}

/// (route index, from, until, status, ratio, latency, rpm) of an event, times resolved.
type ResolvedEvent = (usize, i64, Option<i64>, u16, f64, Option<u32>, Option<u32>);

/// A loaded scenario: the file plus resolved times and routes.
#[derive(Debug)]
pub struct Scenario {
    pub file: ScenarioFile,
    pub routes: Vec<RouteRef>,
    events: Vec<ResolvedEvent>,
    /// route index → traffic
    traffic: Vec<Option<Traffic>>,
}

/// A scenario that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("Konnect scenario {path}: {message}")]
pub struct ScenarioError {
    pub path: String,
    pub message: String,
}

/// The shipped scenario.
pub fn default_scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/konnect/scenario.yaml")
}

fn parse_time(text: &str, start: i64) -> Result<i64, String> {
    crate::github::seed::parse_time(text, start)
}

fn mix(a: &str, b: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in a.bytes().chain(b.to_le_bytes()) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Scenario {
    /// Loads a scenario file; relative event times count back from `start`.
    pub fn load(path: &Path, start: i64) -> Result<Self, ScenarioError> {
        let err = |message: String| ScenarioError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: ScenarioFile = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        Self::from_file(file, start).map_err(err)
    }

    /// Resolves names and times of a parsed scenario.
    pub fn from_file(file: ScenarioFile, start: i64) -> Result<Self, String> {
        let mut routes = Vec::new();
        for cp in &file.control_planes {
            for s in &cp.services {
                for r in &s.routes {
                    routes.push(RouteRef {
                        cp: cp.id.clone(),
                        route_id: r.id.clone(),
                        route_name: r.name.clone(),
                        service_id: s.id.clone(),
                        service_name: s.name.clone(),
                        path: r.paths.first().cloned().unwrap_or_else(|| "/".into()),
                        method: r.methods.first().cloned().unwrap_or_else(|| "GET".into()),
                        consumer: None,
                    });
                }
            }
        }
        let index = |routes: &[RouteRef], name: &str| {
            routes
                .iter()
                .position(|r| r.route_name == name)
                .ok_or_else(|| format!("no route named {name}"))
        };
        let mut traffic = vec![None; routes.len()];
        for t in &file.traffic {
            let i = index(&routes, &t.route)?;
            routes[i].consumer = t.consumer.clone();
            traffic[i] = Some(t.clone());
        }
        let mut events = Vec::new();
        for e in &file.events {
            let until = e
                .until
                .as_deref()
                .map(|u| parse_time(u, start))
                .transpose()?;
            events.push((
                index(&routes, &e.route)?,
                parse_time(&e.from, start)?,
                until,
                e.status,
                e.ratio.clamp(0.0, 1.0),
                e.latency_ms,
                e.rpm,
            ));
        }
        Ok(Self {
            file,
            routes,
            events,
            traffic,
        })
    }

    /// Requests of route `i` in the minute starting at `t` (epoch seconds, minute-aligned).
    pub fn minute(&self, i: usize, t: i64) -> Minute {
        let Some(tr) = self.traffic.get(i).and_then(Option::as_ref) else {
            return Minute::default();
        };
        let active = |e: &&ResolvedEvent| e.0 == i && t >= e.1 && e.2.is_none_or(|u| t < u);
        let rpm = self
            .events
            .iter()
            .filter(active)
            .find_map(|e| e.6)
            .unwrap_or(tr.rpm);
        let jitter = (mix(&self.routes[i].route_id, t) % 21) as i64 - 10;
        let total = (i64::from(rpm) * (100 + jitter) / 100).max(0) as u64;
        let mut left = total;
        let mut by_status = Vec::new();
        for (route, from, until, status, ratio, lat, _) in &self.events {
            if *route == i && t >= *from && until.is_none_or(|u| t < u) {
                let n = ((total as f64) * ratio).round() as u64;
                let n = n.min(left);
                left -= n;
                by_status.push((*status, n, lat.unwrap_or(tr.latency_ms)));
            }
        }
        let client = ((left as f64) * tr.client_errors).round() as u64;
        by_status.push((404, client, tr.latency_ms / 2 + 1));
        by_status.push((200, left - client, tr.latency_ms));
        by_status.retain(|(_, n, _)| *n > 0);
        Minute { by_status }
    }

    /// The control plane with this id.
    pub fn control_plane(&self, id: &str) -> Option<&ControlPlane> {
        self.file.control_planes.iter().find(|c| c.id == id)
    }
}
