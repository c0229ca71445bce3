//! Sustained-error detection with Argo Rollouts' semantics, as a pure state machine over one
//! measurement per tick: a route's measurement fails when it served at least `min_requests`
//! and its error ratio reached `threshold`; an incident opens when failures in a row exceed
//! `failure_limit`; a measured success closes it. A query that errors is no measurement: errors
//! in a row beyond `consecutive_error_limit` make the state *inconclusive*, never an incident.
//! Low traffic is neither failure nor recovery.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Error ratio (0..1) at which a measurement fails.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Failures in a row allowed; one more opens an incident.
    #[serde(default = "default_failure_limit")]
    pub failure_limit: u32,
    #[serde(default = "default_error_limit")]
    pub consecutive_error_limit: u32,
    /// Count 4xx as errors too.
    #[serde(default)]
    pub include_4xx: bool,
}

fn default_threshold() -> f64 {
    0.5
}
fn default_min_requests() -> u64 {
    50
}
fn default_failure_limit() -> u32 {
    2
}
fn default_error_limit() -> u32 {
    4
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            threshold: default_threshold(),
            min_requests: default_min_requests(),
            failure_limit: default_failure_limit(),
            consecutive_error_limit: default_error_limit(),
            include_4xx: false,
        }
    }
}

/// One route's numbers over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub route: String,
    pub requests: u64,
    pub errors_5xx: u64,
    pub errors_4xx: u64,
}

impl Sample {
    /// The error ratio under `limits`.
    pub fn ratio(&self, limits: &Limits) -> f64 {
        let errors = self.errors_5xx
            + if limits.include_4xx {
                self.errors_4xx
            } else {
                0
            };
        if self.requests == 0 {
            0.0
        } else {
            errors as f64 / self.requests as f64
        }
    }
}

/// A route's detector state (persisted across restarts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteState {
    pub failures: u32,
    pub open: bool,
    /// When the current run of failures began (epoch seconds).
    pub failing_since: Option<i64>,
    pub last_ratio: f64,
    pub last_requests: u64,
}

/// A control plane's detector state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub routes: BTreeMap<String, RouteState>,
    pub query_errors: u32,
    /// The last query error while `query_errors` > 0.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Where a route stands after a tick, for people.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Measured under the threshold.
    Healthy,
    /// Too few requests to judge (under `min_requests`).
    Quiet,
    /// Failing `n` measurements in a row; an incident opens at `of`.
    Failing { n: u32, of: u32 },
    /// An incident is open.
    Incident,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Healthy => write!(f, "healthy"),
            Status::Quiet => write!(f, "quiet (under min_requests: no evidence either way)"),
            Status::Failing { n, of } => write!(f, "failing {n}/{of}"),
            Status::Incident => write!(f, "incident"),
        }
    }
}

/// The status of `route`'s state under `limits`.
pub fn status(r: &RouteState, limits: &Limits) -> Status {
    if r.open {
        Status::Incident
    } else if r.failures > 0 {
        Status::Failing {
            n: r.failures,
            of: limits.failure_limit + 1,
        }
    } else if r.last_requests < limits.min_requests {
        Status::Quiet
    } else {
        Status::Healthy
    }
}

/// What a tick found.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// An incident opened on `route`.
    Opened {
        route: String,
        ratio: f64,
        requests: u64,
    },
    /// The incident on `route` continues.
    Ongoing { route: String, ratio: f64 },
    /// The incident on `route` is over.
    Recovered { route: String, ratio: f64 },
    /// Queries keep failing: nothing can be concluded.
    Inconclusive { errors: u32, last: String },
}

/// Feeds one tick's measurement (or query error) into `state`.
pub fn observe(
    state: &mut State,
    limits: &Limits,
    tick: Result<&[Sample], &str>,
    now: i64,
) -> Vec<Signal> {
    let samples = match tick {
        Err(e) => {
            state.query_errors += 1;
            state.last_error = Some(e.to_string());
            return if state.query_errors > limits.consecutive_error_limit {
                vec![Signal::Inconclusive {
                    errors: state.query_errors,
                    last: e.to_string(),
                }]
            } else {
                Vec::new()
            };
        }
        Ok(s) => s,
    };
    state.query_errors = 0;
    state.last_error = None;
    let mut out = Vec::new();
    for s in samples {
        let ratio = s.ratio(limits);
        let r = state.routes.entry(s.route.clone()).or_default();
        r.last_ratio = ratio;
        r.last_requests = s.requests;
        if s.requests < limits.min_requests {
            // Not evidence either way.
            r.failures = 0;
            r.failing_since = None;
            continue;
        }
        if ratio >= limits.threshold {
            r.failures += 1;
            r.failing_since.get_or_insert(now);
            if r.open {
                out.push(Signal::Ongoing {
                    route: s.route.clone(),
                    ratio,
                });
            } else if r.failures > limits.failure_limit {
                r.open = true;
                out.push(Signal::Opened {
                    route: s.route.clone(),
                    ratio,
                    requests: s.requests,
                });
            }
        } else {
            r.failures = 0;
            r.failing_since = None;
            if r.open {
                r.open = false;
                out.push(Signal::Recovered {
                    route: s.route.clone(),
                    ratio,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(requests: u64, errors: u64) -> Vec<Sample> {
        vec![Sample {
            route: "orders".into(),
            requests,
            errors_5xx: errors,
            errors_4xx: 0,
        }]
    }

    #[test]
    fn an_incident_opens_after_the_failure_limit_and_closes_on_recovery() {
        let l = Limits::default();
        let mut s = State::default();
        assert!(observe(&mut s, &l, Ok(&tick(100, 90)), 0).is_empty());
        assert!(observe(&mut s, &l, Ok(&tick(100, 90)), 60).is_empty());
        let opened = observe(&mut s, &l, Ok(&tick(100, 90)), 120);
        assert!(matches!(&opened[..], [Signal::Opened { route, .. }] if route == "orders"));
        assert_eq!(s.routes["orders"].failing_since, Some(0));
        assert!(matches!(
            observe(&mut s, &l, Ok(&tick(100, 95)), 180)[..],
            [Signal::Ongoing { .. }]
        ));
        assert!(matches!(
            observe(&mut s, &l, Ok(&tick(100, 1)), 240)[..],
            [Signal::Recovered { .. }]
        ));
        assert!(!s.routes["orders"].open);
    }

    #[test]
    fn statuses_say_how_far_a_route_is_from_an_incident() {
        let l = Limits::default();
        let mut s = State::default();
        observe(&mut s, &l, Ok(&tick(10, 10)), 0);
        assert_eq!(status(&s.routes["orders"], &l), Status::Quiet);
        observe(&mut s, &l, Ok(&tick(100, 1)), 0);
        assert_eq!(status(&s.routes["orders"], &l), Status::Healthy);
        observe(&mut s, &l, Ok(&tick(100, 90)), 0);
        observe(&mut s, &l, Ok(&tick(100, 90)), 0);
        assert_eq!(status(&s.routes["orders"], &l).to_string(), "failing 2/3");
        observe(&mut s, &l, Ok(&tick(100, 90)), 0);
        assert_eq!(status(&s.routes["orders"], &l), Status::Incident);
        observe(&mut s, &l, Err("HTTP 429"), 0);
        assert_eq!(s.last_error.as_deref(), Some("HTTP 429"));
    }

    #[test]
    fn low_traffic_and_healthy_traffic_never_open_and_one_blip_resets() {
        let l = Limits::default();
        let mut s = State::default();
        for t in 0..20 {
            assert!(
                observe(&mut s, &l, Ok(&tick(10, 10)), t).is_empty(),
                "low traffic"
            );
            assert!(
                observe(&mut s, &l, Ok(&tick(500, 3)), t).is_empty(),
                "healthy"
            );
        }
        observe(&mut s, &l, Ok(&tick(100, 90)), 0);
        observe(&mut s, &l, Ok(&tick(100, 90)), 1);
        observe(&mut s, &l, Ok(&tick(100, 2)), 2);
        assert!(
            observe(&mut s, &l, Ok(&tick(100, 90)), 3).is_empty(),
            "the run restarted"
        );
    }

    #[test]
    fn query_errors_are_inconclusive_not_incidents() {
        let l = Limits::default();
        let mut s = State::default();
        for _ in 0..4 {
            assert!(observe(&mut s, &l, Err("429"), 0).is_empty());
        }
        assert!(matches!(
            observe(&mut s, &l, Err("429"), 0)[..],
            [Signal::Inconclusive { errors: 5, .. }]
        ));
        assert!(s.routes.values().all(|r| !r.open));
        observe(&mut s, &l, Ok(&[]), 0);
        assert_eq!(s.query_errors, 0);
    }
}
