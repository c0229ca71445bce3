//! Building and validating `/v2/metrics` queries before they are sent, so a model learns which
//! field is wrong without spending one of the ten queries a minute.

use mcp_runtime::ToolError;
use serde_json::{Value, json};

/// Metrics of the `api_usage` datasource.
pub const METRICS: &[&str] = &[
    "cache_hit_rate",
    "error_rate",
    "kong_internal_latency_average",
    "kong_internal_latency_p50",
    "kong_internal_latency_p95",
    "kong_internal_latency_p99",
    "kong_latency_average",
    "kong_latency_p50",
    "kong_latency_p95",
    "kong_latency_p99",
    "request_count",
    "request_per_minute",
    "request_size_average",
    "request_size_p50",
    "request_size_p95",
    "request_size_p99",
    "request_size_sum",
    "response_latency_average",
    "response_latency_p50",
    "response_latency_p95",
    "response_latency_p99",
    "response_size_average",
    "response_size_p50",
    "response_size_p95",
    "response_size_p99",
    "response_size_sum",
    "upstream_latency_average",
    "upstream_latency_p50",
    "upstream_latency_p95",
    "upstream_latency_p99",
];

/// Dimensions of the `api_usage` datasource.
pub const DIMENSIONS: &[&str] = &[
    "api",
    "api_package",
    "api_product",
    "api_product_version",
    "application",
    "cache_status",
    "consumer",
    "control_plane",
    "control_plane_group",
    "country_code",
    "data_plane_node",
    "data_plane_node_version",
    "gateway_service",
    "portal",
    "principal",
    "realm",
    "response_source",
    "route",
    "status_code",
    "status_code_grouped",
    "time",
    "upstream_status_code",
    "upstream_status_code_grouped",
];

/// Filter fields whose values are `control_plane_id:entity_id`.
pub const SCOPED: &[&str] = &["route", "gateway_service", "consumer", "data_plane_node"];

/// Granularities Konnect allows for each relative window.
pub fn granularities(window: &str) -> Option<&'static [&'static str]> {
    Some(match window {
        "15m" => &["tenSecondly", "thirtySecondly", "minutely"],
        "1h" => &[
            "tenSecondly",
            "thirtySecondly",
            "minutely",
            "fiveMinutely",
            "tenMinutely",
        ],
        "6h" => &[
            "thirtySecondly",
            "minutely",
            "fiveMinutely",
            "tenMinutely",
            "thirtyMinutely",
            "hourly",
        ],
        "12h" => &[
            "minutely",
            "fiveMinutely",
            "tenMinutely",
            "thirtyMinutely",
            "hourly",
        ],
        "24h" => &["fiveMinutely", "tenMinutely", "thirtyMinutely", "hourly"],
        "7d" => &[
            "thirtyMinutely",
            "hourly",
            "twoHourly",
            "twelveHourly",
            "daily",
        ],
        "30d" => &["hourly", "twoHourly", "twelveHourly", "daily", "weekly"],
        _ => return None,
    })
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ToolError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ToolError::invalid(
            field,
            format!("`{value}` is not one of: {}", allowed.join(", ")),
        ))
    }
}

/// A time range object, validated: a relative window (`15m`, `1h`, ...) or an absolute
/// `START/END` pair of RFC 3339 times (within Konnect's 32 days).
pub fn time_range(window: &str) -> Result<Value, ToolError> {
    if let Some((start, end)) = window.trim().split_once('/') {
        let parse = |v: &str| {
            v.trim().parse::<jiff::Timestamp>().map_err(|e| {
                ToolError::invalid("window", format!("`{v}` is not an RFC 3339 time: {e}"))
            })
        };
        let (s, e) = (parse(start)?, parse(end)?);
        if s >= e {
            return Err(ToolError::invalid(
                "window",
                "the start must be before the end",
            ));
        }
        if e.as_second() - s.as_second() > 32 * 86_400 {
            return Err(ToolError::invalid("window", "at most 32 days"));
        }
        return Ok(json!({"type": "absolute", "start": s.to_string(), "end": e.to_string()}));
    }
    let w = window.trim().to_ascii_lowercase();
    let w = if w.is_empty() { "15m".to_string() } else { w };
    if granularities(&w).is_none() {
        return Err(ToolError::invalid(
            "window",
            "one of 15m, 1h, 6h, 12h, 24h, 7d, 30d, or START/END in RFC 3339",
        ));
    }
    Ok(json!({"type": "relative", "time_range": w}))
}

/// One filter, with its value list (for `in`/`not_in`).
#[derive(Debug, Clone)]
pub struct Filter {
    pub field: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// Checks a whole query (already with scoped ids) against Konnect's rules.
pub fn validate(
    metrics: &[String],
    dimensions: &[String],
    filters: &[Filter],
    window: &str,
    granularity: Option<&str>,
    limit: Option<u32>,
) -> Result<Value, ToolError> {
    if metrics.is_empty() || metrics.len() > 3 {
        return Err(ToolError::invalid(
            "metrics",
            "give 1 to 3 metrics, e.g. [\"request_count\"]",
        ));
    }
    for (i, m) in metrics.iter().enumerate() {
        one_of(&format!("metrics[{i}]"), m, METRICS)?;
    }
    if dimensions.len() > 2 {
        return Err(ToolError::invalid("dimensions", "at most 2 dimensions"));
    }
    for (i, d) in dimensions.iter().enumerate() {
        one_of(&format!("dimensions[{i}]"), d, DIMENSIONS)?;
    }
    let range = time_range(window)?;
    let mut body = json!({"datasource": "api_usage", "metrics": metrics, "time_range": range});
    if !dimensions.is_empty() {
        body["dimensions"] = json!(dimensions);
    }
    if let Some(g) = granularity.filter(|g| !g.is_empty()) {
        if !dimensions.iter().any(|d| d == "time") {
            return Err(ToolError::invalid(
                "granularity",
                "only applies with the `time` dimension",
            ));
        }
        let allowed = granularities(range["time_range"].as_str().unwrap_or("15m")).unwrap_or(&[]);
        one_of("granularity", g, allowed)?;
        body["granularity"] = json!(g);
    }
    if let Some(l) = limit {
        if !(1..=1000).contains(&l) {
            return Err(ToolError::invalid("limit", "1 to 1000"));
        }
        body["limit"] = json!(l);
    }
    let mut out = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let field = format!("filters[{i}]");
        one_of(
            &format!("{field}.field"),
            &f.field,
            DIMENSIONS
                .iter()
                .copied()
                .filter(|d| *d != "time")
                .collect::<Vec<_>>()
                .as_slice(),
        )?;
        match f.operator.as_str() {
            "in" | "not_in" => {
                if f.values.is_empty() {
                    return Err(ToolError::invalid(
                        format!("{field}.value"),
                        "`in`/`not_in` need at least one value",
                    ));
                }
                if SCOPED.contains(&f.field.as_str()) && f.values.iter().any(|v| !v.contains(':')) {
                    return Err(ToolError::invalid(
                        format!("{field}.value"),
                        "needs control_plane_id:entity_id",
                    ));
                }
                let values: Vec<Value> = if f.field == "status_code" {
                    f.values
                        .iter()
                        .map(|v| {
                            v.parse::<u16>().map(|n| json!(n)).map_err(|_| {
                                ToolError::invalid(
                                    format!("{field}.value"),
                                    "status codes are numbers",
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?
                } else {
                    f.values.iter().map(|v| json!(v)).collect()
                };
                out.push(json!({"field": f.field, "operator": f.operator, "value": values}));
            }
            "empty" | "not_empty" => out.push(json!({"field": f.field, "operator": f.operator})),
            other => {
                return Err(ToolError::invalid(
                    format!("{field}.operator"),
                    format!("`{other}` is not one of: in, not_in, empty, not_empty"),
                ));
            }
        }
    }
    if !out.is_empty() {
        body["filters"] = Value::Array(out);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_windows_are_checked() {
        let r = time_range("2026-11-22T10:00:00Z/2026-11-22T10:01:00Z").unwrap();
        assert_eq!(r["type"], "absolute");
        assert_eq!(r["start"], "2026-11-22T10:00:00Z");
        assert!(time_range("2026-11-22T10:01:00Z/2026-11-22T10:00:00Z").is_err());
        assert!(time_range("2026-01-01T00:00:00Z/2026-11-22T10:00:00Z").is_err());
        assert!(time_range("yesterday/today").is_err());
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn errors_name_the_offending_field() {
        let e = validate(&s(&["requests"]), &[], &[], "15m", None, None).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid argument `metrics[0]`"),
            "{e}"
        );
        let e = validate(
            &s(&["request_count"]),
            &s(&["time"]),
            &[],
            "15m",
            Some("daily"),
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("`granularity`") && e.to_string().contains("minutely"),
            "{e}"
        );
        let f = Filter {
            field: "route".into(),
            operator: "in".into(),
            values: s(&["abc"]),
        };
        let e = validate(&s(&["request_count"]), &[], &[f], "1h", None, None).unwrap_err();
        assert!(e.to_string().contains("`filters[0].value`"), "{e}");
        let e = validate(&s(&["request_count"]), &[], &[], "2h", None, None).unwrap_err();
        assert!(e.to_string().contains("`window`"), "{e}");
    }

    #[test]
    fn a_valid_query_has_the_documented_shape() {
        let f = Filter {
            field: "status_code".into(),
            operator: "in".into(),
            values: s(&["503"]),
        };
        let q = validate(
            &s(&["request_count"]),
            &s(&["route", "time"]),
            &[f],
            "6h",
            Some("fiveMinutely"),
            Some(100),
        )
        .unwrap();
        assert_eq!(
            q["time_range"],
            json!({"type": "relative", "time_range": "6h"})
        );
        assert_eq!(q["filters"][0]["value"], json!([503]));
        assert_eq!(q["granularity"], "fiveMinutely");
    }
}
