//! Where a target's traffic numbers come from: Konnect analytics (the default) or Prometheus,
//! reading the counter of Kong's `prometheus` plugin (`kong_http_requests_total`, labelled by
//! `service`, `route`, `code`, `source`, `workspace` and `consumer`; Kong's plugin docs,
//! "Metrics") or any counter with a route and a status-code label. Both give the detector the
//! same [`Sample`]s and the onset the same buckets, so detection, attribution and the revert
//! are one code path whatever the source.
//!
//! Prometheus answers are judged as strictly as Konnect's: no series at all is missing data
//! (Kong's counters exist, at zero, whenever the target is scraped), more series than the
//! server returns is an error (a route could be hidden), and a tool error is a query error
//! that the detector counts towards "inconclusive".

use serde::Deserialize;
use serde_json::{Value, json};

use super::detector::Sample;
use super::pass::{Rollback, Target, data, ts};
use crate::clock::Clock;
use crate::mcp::Toolbox;
use crate::model::Model;

/// The traffic source of a target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Konnect's `/v2/metrics` through `konnect.traffic_health`.
    #[default]
    Konnect,
    /// PromQL over a Kong-style request counter through `prometheus.query`/`query_range`.
    Prometheus,
}

/// How the Prometheus source reads its counter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromSignal {
    /// A counter of requests, one series per route and status code.
    #[serde(default = "default_metric")]
    pub metric: String,
    #[serde(default = "default_route_label")]
    pub route_label: String,
    #[serde(default = "default_code_label")]
    pub code_label: String,
    /// Extra label matchers selecting this target's gateway, e.g. `namespace="shop", job="kong"`.
    #[serde(default)]
    pub matchers: String,
    /// Bucket size of the onset series in seconds (at least the scrape interval; default 60).
    #[serde(default = "default_step")]
    pub step_secs: i64,
}

fn default_metric() -> String {
    "kong_http_requests_total".into()
}
fn default_route_label() -> String {
    "route".into()
}
fn default_code_label() -> String {
    "code".into()
}
fn default_step() -> i64 {
    60
}

impl Default for PromSignal {
    fn default() -> Self {
        Self {
            metric: default_metric(),
            route_label: default_route_label(),
            code_label: default_code_label(),
            matchers: String::new(),
            step_secs: default_step(),
        }
    }
}

/// Points an onset series may hold (the Prometheus server's own budget per series).
const MAX_POINTS: i64 = 200;

fn label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A PromQL double-quoted string holding `s` exactly (route names are upstream text: quoted,
/// never spliced).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl PromSignal {
    /// Checks names, matchers and step at load time, so a typo fails the start and not every
    /// tick.
    pub fn validate(&self) -> Result<(), String> {
        let metric_ok = self
            .metric
            .chars()
            .next()
            .is_some_and(|f| !f.is_ascii_digit())
            && self
                .metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !metric_ok {
            return Err(format!(
                "prometheus.metric `{}` is not a metric name",
                self.metric
            ));
        }
        for (field, v) in [
            ("route_label", &self.route_label),
            ("code_label", &self.code_label),
        ] {
            if !label_name(v) {
                return Err(format!("prometheus.{field} `{v}` is not a label name"));
            }
        }
        if !(1..=3600).contains(&self.step_secs) {
            return Err("prometheus.step_secs must be 1 to 3600".into());
        }
        let probe = self.selector(&[]);
        match promql_parser::parser::parse(&probe) {
            Ok(promql_parser::parser::Expr::VectorSelector(_)) => Ok(()),
            Ok(_) => Err(format!(
                "prometheus.matchers `{}` must be label matchers only",
                self.matchers
            )),
            Err(e) => Err(format!("prometheus.matchers `{}`: {e}", self.matchers)),
        }
    }

    /// `metric{matchers, extra...}`.
    fn selector(&self, extra: &[String]) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.matchers.trim().is_empty() {
            parts.push(self.matchers.trim().trim_end_matches(',').to_string());
        }
        parts.extend(extra.iter().cloned());
        format!("{}{{{}}}", self.metric, parts.join(", "))
    }

    /// Requests (`class` None) or errors of a status class (`Some('5')`) over `secs`, summed by
    /// `by` (empty: one series).
    fn increase(&self, class: Option<char>, route: Option<&str>, secs: i64, by: &str) -> String {
        let mut extra = Vec::new();
        if let Some(r) = route {
            extra.push(format!("{}={}", self.route_label, quoted(r)));
        }
        if let Some(c) = class {
            extra.push(format!("{}=~\"{c}..\"", self.code_label));
        }
        let by = if by.is_empty() {
            String::new()
        } else {
            format!(" by ({by})")
        };
        format!("sum{by} (increase({}[{secs}s]))", self.selector(&extra))
    }
}

/// The structured series of a Prometheus tool result, refusing a capped or malformed one.
fn series(out: &crate::mcp::ToolOutcome) -> Result<Vec<Value>, String> {
    let d = data(out)?;
    let rows = d["series"]
        .as_array()
        .ok_or_else(|| "the Prometheus result has no series list".to_string())?;
    let total = d["total"].as_u64().unwrap_or(rows.len() as u64);
    if total > rows.len() as u64 {
        return Err(format!(
            "Prometheus returned {total} series and the server shows {}: narrow the target's matchers (one series per route)",
            rows.len()
        ));
    }
    Ok(rows.clone())
}

/// A counter increase as a whole count (increase() extrapolates to fractions; never negative).
fn count(v: &Value) -> Option<u64> {
    let f = v.as_f64()?;
    f.is_finite().then(|| f.max(0.0).round() as u64)
}

/// Per-label-value totals of an instant vector.
fn by_label(rows: &[Value], label: &str) -> Vec<(String, u64)> {
    rows.iter()
        .filter_map(|r| {
            Some((
                r["labels"][label].as_str()?.to_string(),
                count(&r["value"])?,
            ))
        })
        .collect()
}

impl<M: Model, T: Toolbox, C: Clock> Rollback<M, T, C> {
    /// One measurement of every route of `target` over the last `window_secs` before `now`.
    pub(super) async fn measure(&self, target: &Target, now: i64) -> Result<Vec<Sample>, String> {
        let window_secs = self.settings.window_secs.max(1);
        match target.source {
            Source::Konnect => {
                let window = match (
                    jiff::Timestamp::from_second(now - window_secs),
                    jiff::Timestamp::from_second(now),
                ) {
                    (Ok(s), Ok(e)) => format!("{s}/{e}"),
                    _ => "15m".to_string(),
                };
                let out = self
                    .tools
                    .call(
                        "konnect.traffic_health",
                        json!({"control_plane": target.control_plane, "by": "route",
                            "window": window, "include_4xx": self.settings.limits.include_4xx}),
                    )
                    .await;
                data(&out).map(|d| {
                    d["rows"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| Sample {
                            route: r["name"].as_str().unwrap_or_default().to_string(),
                            requests: r["requests"].as_u64().unwrap_or(0),
                            errors_5xx: r["errors_5xx"].as_u64().unwrap_or(0),
                            errors_4xx: r["errors_4xx"].as_u64().unwrap_or(0),
                        })
                        .collect()
                })
            }
            Source::Prometheus => {
                let p = &target.prometheus;
                let label = &p.route_label;
                let instant = |q: String| {
                    self.tools.call(
                        "prometheus.query",
                        json!({"query": q, "time": now.to_string()}),
                    )
                };
                let requests = series(&instant(p.increase(None, None, window_secs, label)).await)?;
                if requests.is_empty() {
                    return Err(format!(
                        "no series for {}: check the metric, the matchers and that the gateway is scraped",
                        p.selector(&[])
                    ));
                }
                let e5 = by_label(
                    &series(&instant(p.increase(Some('5'), None, window_secs, label)).await)?,
                    label,
                );
                let e4 = if self.settings.limits.include_4xx {
                    by_label(
                        &series(&instant(p.increase(Some('4'), None, window_secs, label)).await)?,
                        label,
                    )
                } else {
                    Vec::new()
                };
                let of = |v: &[(String, u64)], route: &str| {
                    v.iter().find(|(r, _)| r == route).map_or(0, |(_, n)| *n)
                };
                Ok(by_label(&requests, label)
                    .into_iter()
                    .map(|(route, requests)| Sample {
                        errors_5xx: of(&e5, &route).min(requests),
                        errors_4xx: of(&e4, &route).min(requests),
                        route,
                        requests,
                    })
                    .collect())
            }
        }
    }

    /// `(start, requests, errors)` per bucket of `route`, oldest first, and the bucket size:
    /// the fine series (Konnect: the last hour by minute; Prometheus: up to 200 buckets of
    /// `step_secs`, at most an hour) or the coarse one (Konnect: 6 hours by five minutes;
    /// Prometheus: buckets five times as long, at most 6 hours).
    pub(super) async fn series(
        &self,
        target: &Target,
        route: &str,
        coarse: bool,
    ) -> Result<(Vec<(i64, u64, u64)>, i64), String> {
        let with_4xx = self.settings.limits.include_4xx;
        match target.source {
            Source::Konnect => {
                let (window, granularity, step) = if coarse {
                    ("6h", "fiveMinutely", 300)
                } else {
                    ("1h", "minutely", 60)
                };
                let out = self
                    .tools
                    .call(
                        "konnect.traffic_health",
                        json!({"control_plane": target.control_plane, "route": route, "series": true,
                            "window": window, "granularity": granularity}),
                    )
                    .await;
                let d = data(&out)?;
                let buckets = d["buckets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| {
                        let errors = b["errors_5xx"].as_u64()?
                            + if with_4xx {
                                b["errors_4xx"].as_u64()?
                            } else {
                                0
                            };
                        Some((ts(&b["time"])?, b["requests"].as_u64()?, errors))
                    })
                    .collect();
                Ok((buckets, step))
            }
            Source::Prometheus => {
                let p = &target.prometheus;
                let (step, max_range) = if coarse {
                    (p.step_secs * 5, 6 * 3600)
                } else {
                    (p.step_secs, 3600)
                };
                let range = (step * MAX_POINTS).min(max_range);
                let now = self.clock.now().as_second();
                let ranged = |q: String| {
                    self.tools.call(
                        "prometheus.query_range",
                        json!({"query": q, "range": format!("{range}s"),
                            "end": now.to_string(), "step": step}),
                    )
                };
                let points = |rows: &[Value]| -> Vec<(i64, u64)> {
                    rows.first()
                        .and_then(|r| r["values"].as_array())
                        .into_iter()
                        .flatten()
                        .filter_map(|pt| Some((pt.get(0)?.as_i64()?, count(pt.get(1)?)?)))
                        .collect()
                };
                let requests = points(&series(
                    &ranged(p.increase(None, Some(route), step, "")).await,
                )?);
                let mut errors = points(&series(
                    &ranged(p.increase(Some('5'), Some(route), step, "")).await,
                )?);
                if with_4xx {
                    errors.extend(points(&series(
                        &ranged(p.increase(Some('4'), Some(route), step, "")).await,
                    )?));
                }
                // A point at t sums (t - step, t]: its bucket starts at t - step.
                let buckets = requests
                    .into_iter()
                    .map(|(t, n)| {
                        let e: u64 = errors.iter().filter(|(u, _)| *u == t).map(|(_, e)| e).sum();
                        (t - step, n, e.min(n))
                    })
                    .collect();
                Ok((buckets, step))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_quoted_never_spliced() {
        let p = PromSignal::default();
        let q = p.increase(Some('5'), Some("a\"} or vector(1) #\\"), 60, "");
        let parsed = promql_parser::parser::parse(&q).unwrap();
        // Still one aggregation over one selector, whose route matcher holds the whole name.
        let text = format!("{parsed:?}");
        assert!(text.contains("or vector(1)"), "kept as a value: {text}");
        assert!(matches!(parsed, promql_parser::parser::Expr::Aggregate(_)));
        assert_eq!(
            q,
            "sum (increase(kong_http_requests_total{route=\"a\\\"} or vector(1) #\\\\\", code=~\"5..\"}[60s]))"
        );
    }

    #[test]
    fn a_bad_signal_fails_at_load() {
        let ok = PromSignal {
            matchers: "namespace=\"shop\", job=~\"kong|gw\"".into(),
            ..PromSignal::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        for bad in [
            PromSignal {
                matchers: "namespace=\"shop\"} or up{".into(),
                ..PromSignal::default()
            },
            PromSignal {
                route_label: "route-name".into(),
                ..PromSignal::default()
            },
            PromSignal {
                metric: "9kong".into(),
                ..PromSignal::default()
            },
            PromSignal {
                step_secs: 0,
                ..PromSignal::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_are_whole_and_never_negative() {
        assert_eq!(count(&json!(12.6)), Some(13));
        assert_eq!(count(&json!(-0.2)), Some(0));
        assert_eq!(count(&json!(null)), None);
    }
}
