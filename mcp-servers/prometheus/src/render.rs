//! Compact renderings of query results: series capped, values rounded to four significant
//! digits, range steps chosen so a series has at most [`MAX_POINTS`] points. Label values are
//! data a program or person wrote, so callers fence what these return.

use serde_json::{Map, Value, json};

/// Points per series a range query aims at (at most).
pub const MAX_POINTS: u64 = 200;

/// Series shown before "narrow your query".
pub const MAX_SERIES: usize = 40;

/// A value as text: four significant digits, no exponent for everyday magnitudes.
pub fn number(text: &str) -> String {
    let Ok(v) = text.parse::<f64>() else {
        return text.to_string();
    };
    if !v.is_finite() {
        return text.to_string();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let digits = 4 - (v.abs().log10().floor() as i32 + 1);
    if (-12..=12).contains(&digits) {
        let d = digits.clamp(0, 12) as usize;
        let s = format!("{v:.d$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s == "0" || s == "-0" {
            format!("{v:.3e}")
        } else {
            s
        }
    } else {
        format!("{v:.3e}")
    }
}

/// `name{a="1", b="2"}` of a metric's labels.
pub fn series_name(metric: &Map<String, Value>) -> String {
    let name = metric.get("__name__").and_then(Value::as_str).unwrap_or("");
    let labels: Vec<String> = metric
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or("")))
        .collect();
    if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", labels.join(", "))
    }
}

/// A step (seconds) giving at most [`MAX_POINTS`] points over `range`, rounded up to a
/// step people use.
pub fn step_for(range_secs: u64) -> u64 {
    const NICE: &[u64] = &[
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ];
    let want = range_secs.div_ceil(MAX_POINTS).max(1);
    NICE.iter()
        .copied()
        .find(|s| *s >= want)
        .unwrap_or_else(|| want.div_ceil(86400) * 86400)
}

/// The text and data of a `/query` or `/query_range` answer's `data`.
pub fn result(data: &Value) -> (String, Value) {
    let kind = data["resultType"].as_str().unwrap_or("");
    let result = &data["result"];
    match kind {
        "scalar" | "string" => {
            let v = result.get(1).and_then(Value::as_str).unwrap_or("");
            (
                format!("{kind}: {}", number(v)),
                json!({"type": kind, "value": v}),
            )
        }
        "vector" => vector(result.as_array().map(Vec::as_slice).unwrap_or(&[])),
        "matrix" => matrix(result.as_array().map(Vec::as_slice).unwrap_or(&[])),
        other => (
            format!("unexpected result type `{other}`"),
            json!({"type": other}),
        ),
    }
}

fn vector(series: &[Value]) -> (String, Value) {
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    for s in series.iter().take(MAX_SERIES) {
        let empty = Map::new();
        let metric = s["metric"].as_object().unwrap_or(&empty);
        let v = s["value"].get(1).and_then(Value::as_str).unwrap_or("");
        lines.push(format!("{} {}", series_name(metric), number(v)));
        rows.push(json!({"labels": metric, "value": v.parse::<f64>().ok()}));
    }
    let mut text = format!("{} series", series.len());
    if series.is_empty() {
        text.push_str(" (no data: check the metric name and matchers with label_values)");
    }
    for l in lines {
        text.push('\n');
        text.push_str(&l);
    }
    if series.len() > MAX_SERIES {
        text.push_str(&format!(
            "\n… {} more series not shown: narrow the query (more matchers, `topk`, `sum by`)",
            series.len() - MAX_SERIES
        ));
    }
    (
        text,
        json!({"type": "vector", "series": rows, "total": series.len()}),
    )
}

fn matrix(series: &[Value]) -> (String, Value) {
    let mut text = format!("{} series", series.len());
    if series.is_empty() {
        text.push_str(" (no data in the range)");
    }
    let mut rows = Vec::new();
    for s in series.iter().take(MAX_SERIES) {
        let empty = Map::new();
        let metric = s["metric"].as_object().unwrap_or(&empty);
        let points: Vec<(i64, String)> = s["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let t = p.get(0)?.as_f64()? as i64;
                Some((t, p.get(1)?.as_str()?.to_string()))
            })
            .collect();
        let nums: Vec<f64> = points.iter().filter_map(|(_, v)| v.parse().ok()).collect();
        let (min, max) = nums
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let (first, last) = (points.first(), points.last());
        text.push_str(&format!(
            "\n{}: {} points{}",
            series_name(metric),
            points.len(),
            match (first, last) {
                (Some((t0, _)), Some((t1, v1))) => format!(
                    " from {} to {}, min {} max {} last {}",
                    at(*t0),
                    at(*t1),
                    number(&min.to_string()),
                    number(&max.to_string()),
                    number(v1)
                ),
                _ => String::new(),
            }
        ));
        let values: Vec<String> = points.iter().map(|(_, v)| number(v)).collect();
        if !values.is_empty() {
            text.push_str(&format!("\n  {}", values.join(" ")));
        }
        rows.push(json!({"labels": metric,
            "values": points.iter().map(|(t, v)| json!([t, v.parse::<f64>().ok()])).collect::<Vec<_>>()}));
    }
    if series.len() > MAX_SERIES {
        text.push_str(&format!(
            "\n… {} more series not shown: narrow the query (more matchers, `topk`, `sum by`)",
            series.len() - MAX_SERIES
        ));
    }
    (
        text,
        json!({"type": "matrix", "series": rows, "total": series.len()}),
    )
}

/// An epoch second as RFC 3339, to the second.
pub fn at(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_rounded_to_four_significant_digits() {
        assert_eq!(number("0.123456"), "0.1235");
        assert_eq!(number("1234.5678"), "1235");
        assert_eq!(number("42"), "42");
        assert_eq!(number("0.000012346"), "0.00001235");
        assert_eq!(number("NaN"), "NaN");
        assert_eq!(number("+Inf"), "+Inf");
        assert_eq!(number("1e-20"), "1.000e-20");
    }

    #[test]
    fn steps_keep_a_series_under_the_point_budget() {
        assert_eq!(step_for(3600), 30);
        assert_eq!(step_for(60), 1);
        assert_eq!(step_for(86400 * 7), 3600);
        for r in [1, 59, 600, 3601, 86399, 10_000_000] {
            assert!(r / step_for(r) <= MAX_POINTS, "{r}");
        }
    }

    #[test]
    fn a_vector_past_the_cap_says_how_to_narrow_it() {
        let series: Vec<Value> = (0..45)
            .map(|i| json!({"metric": {"__name__": "up", "job": format!("j{i}")}, "value": [0, "1"]}))
            .collect();
        let (text, data) = result(&json!({"resultType": "vector", "result": series}));
        assert!(text.starts_with("45 series\nup{job=\"j0\"} 1"), "{text}");
        assert!(text.contains("5 more series not shown"), "{text}");
        assert_eq!(data["series"].as_array().map(Vec::len), Some(MAX_SERIES));
    }
}
