//! `POST /v2/metrics` over the scenario: time ranges and granularities as Konnect documents
//! them, filters, up to two dimensions, the supported metrics, `limit` and `meta.display`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::scenario::{RouteRef, Scenario};
use super::spec::Invalid;

const DAY: i64 = 86_400;

/// Dimensions the emulator groups by (the others in the spec are rejected with a 400 that
/// says the emulator does not model them).
const DIMENSIONS: &[&str] = &[
    "route",
    "gateway_service",
    "control_plane",
    "consumer",
    "status_code",
    "status_code_grouped",
    "time",
];

/// Metrics the emulator computes.
const METRICS: &[&str] = &[
    "request_count",
    "request_per_minute",
    "error_rate",
    "response_latency_p99",
    "response_latency_p95",
    "response_latency_p50",
    "response_latency_average",
    "upstream_latency_p99",
    "upstream_latency_p95",
    "upstream_latency_p50",
    "upstream_latency_average",
    "kong_latency_p99",
    "kong_latency_p95",
    "kong_latency_p50",
    "kong_latency_average",
];

/// Kong's own latency in the emulated gateway, per request.
const KONG_MS: u32 = 2;

fn bad(field: &str, rule: &str, reason: impl Into<String>) -> Vec<Invalid> {
    vec![Invalid {
        field: field.into(),
        rule: rule.into(),
        reason: reason.into(),
    }]
}

fn granularity_secs(g: &str) -> Option<i64> {
    Some(match g {
        "tenSecondly" => 10,
        "thirtySecondly" => 30,
        "minutely" => 60,
        "fiveMinutely" => 300,
        "tenMinutely" => 600,
        "thirtyMinutely" => 1800,
        "hourly" => 3600,
        "twoHourly" => 7200,
        "twelveHourly" => 43_200,
        "daily" => DAY,
        "weekly" => 7 * DAY,
        _ => return None,
    })
}

/// (duration, allowed granularities, default) of a relative range.
fn relative(range: &str) -> Option<(i64, &'static [&'static str], &'static str)> {
    Some(match range {
        "15m" => (
            900,
            &["tenSecondly", "thirtySecondly", "minutely"],
            "minutely",
        ),
        "1h" => (
            3600,
            &[
                "tenSecondly",
                "thirtySecondly",
                "minutely",
                "fiveMinutely",
                "tenMinutely",
            ],
            "minutely",
        ),
        "6h" => (
            6 * 3600,
            &[
                "thirtySecondly",
                "minutely",
                "fiveMinutely",
                "tenMinutely",
                "thirtyMinutely",
                "hourly",
            ],
            "fiveMinutely",
        ),
        "12h" => (
            12 * 3600,
            &[
                "minutely",
                "fiveMinutely",
                "tenMinutely",
                "thirtyMinutely",
                "hourly",
            ],
            "tenMinutely",
        ),
        "24h" => (
            DAY,
            &["fiveMinutely", "tenMinutely", "thirtyMinutely", "hourly"],
            "hourly",
        ),
        "7d" => (
            7 * DAY,
            &[
                "thirtyMinutely",
                "hourly",
                "twoHourly",
                "twelveHourly",
                "daily",
            ],
            "hourly",
        ),
        "30d" => (
            30 * DAY,
            &["hourly", "twoHourly", "twelveHourly", "daily", "weekly"],
            "daily",
        ),
        _ => return None,
    })
}

fn ts(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string())
        .unwrap_or_default()
}

/// The time window `[start, end)` and bucket size of a query.
fn window(q: &Value, now: i64) -> Result<(i64, i64, i64), Vec<Invalid>> {
    let tr = q
        .get("time_range")
        .cloned()
        .unwrap_or(json!({"type": "relative", "time_range": "1h"}));
    let wants_time = q["dimensions"]
        .as_array()
        .is_some_and(|d| d.iter().any(|x| x == "time"));
    let requested = q["granularity"].as_str();
    let (start, end, allowed, default): (i64, i64, Option<&[&str]>, &str) =
        match tr["type"].as_str() {
            Some("absolute") => {
                let parse = |k: &str| {
                    tr[k]
                        .as_str()
                        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                        .map(|t| t.as_second())
                        .ok_or_else(|| {
                            bad(
                                &format!("time_range.{k}"),
                                "is_date",
                                format!("{k} must be a valid date in ISO format"),
                            )
                        })
                };
                let (s, e) = (parse("start")?, parse("end")?);
                if s >= e {
                    return Err(bad(
                        "time_range.start",
                        "invalid",
                        "start must be before end",
                    ));
                }
                if s < now - 32 * DAY {
                    return Err(bad(
                        "time_range.start",
                        "invalid",
                        "the time range must be within the last 32 days",
                    ));
                }
                (s, e.min(now), None, "daily")
            }
            _ => {
                let range = tr["time_range"].as_str().unwrap_or("1h");
                let Some((dur, allowed, default)) = relative(range) else {
                    return Err(bad(
                        "time_range.time_range",
                        "enum",
                        format!("{range} is not modelled by the sandbox emulator"),
                    ));
                };
                (now - dur, now, Some(allowed), default)
            }
        };
    let g = match requested {
        Some(g) if wants_time => {
            if allowed.is_some_and(|a| !a.contains(&g)) {
                return Err(bad(
                    "granularity",
                    "enum",
                    format!(
                        "granularity {g} is not allowed for this time range (allowed: {})",
                        allowed.unwrap_or_default().join(", ")
                    ),
                ));
            }
            g
        }
        _ => default,
    };
    let step = granularity_secs(g).unwrap_or(60);
    let start = if wants_time {
        start - start.rem_euclid(step)
    } else {
        start
    };
    Ok((start, end, if wants_time { step } else { end - start }))
}

fn scoped(r: &RouteRef, id: &str) -> String {
    format!("{}:{id}", r.cp)
}

fn dim_value(dim: &str, r: &RouteRef, status: u16, bucket: i64) -> Option<String> {
    Some(match dim {
        "route" => scoped(r, &r.route_id),
        "gateway_service" => scoped(r, &r.service_id),
        "control_plane" => r.cp.clone(),
        "consumer" => scoped(r, r.consumer.as_deref()?),
        "status_code" => status.to_string(),
        "status_code_grouped" => format!("{}XX", status / 100),
        "time" => ts(bucket),
        _ => return None,
    })
}

fn filter_keeps(filters: &[Value], r: &RouteRef, status: u16) -> bool {
    filters.iter().all(|f| {
        let field = f["field"].as_str().unwrap_or("");
        let value = dim_value(field, r, status, 0);
        match f["operator"].as_str() {
            Some("empty") => value.is_none(),
            Some("not_empty") => value.is_some(),
            Some(op) => {
                let listed = f["value"].as_array().is_some_and(|vals| {
                    vals.iter().any(|v| {
                        let v = v
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string());
                        value.as_deref() == Some(v.as_str())
                    })
                });
                if op == "in" { listed } else { !listed }
            }
            None => true,
        }
    })
}

#[derive(Default)]
struct Acc {
    /// (latency ms, count)
    samples: Vec<(u32, u64)>,
    count: u64,
    errors: u64,
}

fn quantile(samples: &[(u32, u64)], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort();
    let total: u64 = s.iter().map(|(_, n)| n).sum();
    let target = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (lat, n) in s {
        seen += n;
        if seen >= target {
            return f64::from(lat);
        }
    }
    0.0
}

fn metric(name: &str, a: &Acc, minutes: f64) -> Value {
    let lat = |shift: i64| -> Vec<(u32, u64)> {
        a.samples
            .iter()
            .map(|(l, n)| ((i64::from(*l) + shift).max(0) as u32, *n))
            .collect()
    };
    let (family, stat) = name.rsplit_once('_').unwrap_or((name, ""));
    let samples = match family {
        "response_latency" => lat(0),
        "upstream_latency" => lat(-i64::from(KONG_MS)),
        "kong_latency" => a.samples.iter().map(|(_, n)| (KONG_MS, *n)).collect(),
        _ => Vec::new(),
    };
    let v = match (name, stat) {
        ("request_count", _) => return json!(a.count),
        ("request_per_minute", _) => (a.count as f64) / minutes.max(1.0),
        ("error_rate", _) => {
            if a.count == 0 {
                0.0
            } else {
                100.0 * a.errors as f64 / a.count as f64
            }
        }
        (_, "p99") => quantile(&samples, 0.99),
        (_, "p95") => quantile(&samples, 0.95),
        (_, "p50") => quantile(&samples, 0.50),
        (_, "average") => {
            let total: u64 = samples.iter().map(|(_, n)| n).sum();
            if total == 0 {
                0.0
            } else {
                samples
                    .iter()
                    .map(|(l, n)| f64::from(*l) * *n as f64)
                    .sum::<f64>()
                    / total as f64
            }
        }
        _ => 0.0,
    };
    json!((v * 100.0).round() / 100.0)
}

/// Evaluates a validated `api_usage` query at `now`.
pub fn query(s: &Scenario, q: &Value, now: i64, query_id: &str) -> Result<Value, Vec<Invalid>> {
    let metrics: Vec<String> = q["metrics"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let metrics = if metrics.is_empty() {
        vec!["request_count".to_string()]
    } else {
        metrics
    };
    for (i, m) in metrics.iter().enumerate() {
        if !METRICS.contains(&m.as_str()) {
            return Err(bad(
                &format!("metrics.{i}"),
                "enum",
                format!("{m} is valid but not modelled by the sandbox emulator"),
            ));
        }
    }
    let dims: Vec<String> = q["dimensions"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (i, d) in dims.iter().enumerate() {
        if !DIMENSIONS.contains(&d.as_str()) {
            return Err(bad(
                &format!("dimensions.{i}"),
                "enum",
                format!("{d} is valid but not modelled by the sandbox emulator"),
            ));
        }
    }
    let filters: Vec<Value> = q["filters"].as_array().cloned().unwrap_or_default();
    let limit = q["limit"].as_f64().unwrap_or(50.0).clamp(1.0, 1000.0) as usize;
    let (start, end, step) = window(q, now)?;

    // group key → accumulator; the key holds one value per dimension, in order.
    let mut groups: BTreeMap<(i64, Vec<String>), Acc> = BTreeMap::new();
    let mut display: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for (i, r) in s.routes.iter().enumerate() {
        let mut t = start - start.rem_euclid(60);
        while t < end {
            for (status, n, lat) in s.minute(i, t).by_status {
                // Share of this minute inside [start, end) (partial first/last minutes).
                let inside = (t + 60).min(end) - t.max(start);
                if inside <= 0 || !filter_keeps(&filters, r, status) {
                    continue;
                }
                let n = n * inside as u64 / 60;
                if n == 0 {
                    continue;
                }
                let bucket = start + (t.max(start) - start) / step * step;
                let Some(key): Option<Vec<String>> = dims
                    .iter()
                    .map(|d| dim_value(d, r, status, bucket))
                    .collect()
                else {
                    continue;
                };
                let acc = groups.entry((bucket, key)).or_default();
                acc.count += n;
                acc.samples.push((lat, n));
                if status >= 400 {
                    acc.errors += n;
                }
                for d in &dims {
                    let (id, name) = match d.as_str() {
                        "route" => (scoped(r, &r.route_id), r.route_name.clone()),
                        "gateway_service" => (scoped(r, &r.service_id), r.service_name.clone()),
                        "control_plane" => (
                            r.cp.clone(),
                            s.control_plane(&r.cp)
                                .map(|c| c.name.clone())
                                .unwrap_or_default(),
                        ),
                        "consumer" => match &r.consumer {
                            Some(c) => (scoped(r, c), consumer_name(s, &r.cp, c)),
                            None => continue,
                        },
                        _ => continue,
                    };
                    display.entry(d.as_str()).or_default().insert(
                        id.clone(),
                        json!({"id": id, "name": name, "deleted": false}),
                    );
                }
            }
            t += 60;
        }
    }
    // `limit` caps the distinct values of the first dimension, keeping the busiest.
    let mut truncated = false;
    if dims.first().is_some_and(|d| d != "time") {
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for ((_, key), acc) in &groups {
            *totals.entry(key[0].clone()).or_default() += acc.count;
        }
        if totals.len() > limit {
            let mut ranked: Vec<(String, u64)> = totals.into_iter().collect();
            ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
            let keep: std::collections::BTreeSet<String> =
                ranked.into_iter().take(limit).map(|(k, _)| k).collect();
            groups.retain(|(_, key), _| keep.contains(&key[0]));
            truncated = true;
        }
    }
    let minutes = (step as f64) / 60.0;
    let data: Vec<Value> = groups
        .iter()
        .map(|((bucket, key), acc)| {
            let mut event = Map::new();
            for (d, v) in dims.iter().zip(key) {
                if d != "time" {
                    event.insert(d.clone(), json!(v));
                }
            }
            for m in &metrics {
                event.insert(m.clone(), metric(m, acc, minutes));
            }
            json!({"timestamp": ts(*bucket), "event": event})
        })
        .collect();
    let units: Map<String, Value> = metrics
        .iter()
        .map(|m| {
            let unit = if m.contains("latency") {
                "ms"
            } else if m == "error_rate" {
                "percent"
            } else {
                "count"
            };
            (m.clone(), json!(unit))
        })
        .collect();
    Ok(json!({
        "data": data,
        "meta": {
            "start": ts(start), "end": ts(end), "granularity_ms": step * 1000,
            "truncated": truncated, "limit": limit, "query_id": query_id,
            "metric_units": units,
            "display": display.into_iter().map(|(k, v)| (k.to_string(), Value::Object(v))).collect::<Map<String, Value>>(),
        }
    }))
}

fn consumer_name(s: &Scenario, cp: &str, id: &str) -> String {
    s.control_plane(cp)
        .and_then(|c| c.consumers.iter().find(|x| x.id == id))
        .map(|c| c.username.clone())
        .unwrap_or_default()
}
