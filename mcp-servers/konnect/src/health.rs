//! Turning `/v2/metrics` answers into traffic health: per route or service, requests, error
//! ratios and the commonest status codes; per time bucket, requests by status class. Pure, so
//! the arithmetic is tested without a server.

use std::collections::BTreeMap;

use mcp_runtime::budget::Table;
use serde_json::Value;

/// Health of one route or service over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub id: String,
    pub name: String,
    pub requests: u64,
    pub errors_5xx: u64,
    pub errors_4xx: u64,
    /// (status code, count), commonest first.
    pub statuses: Vec<(String, u64)>,
}

impl Health {
    /// Share of 5xx answers in percent.
    pub fn ratio_5xx(&self) -> f64 {
        pct(self.errors_5xx, self.requests)
    }
    /// Share of 4xx answers in percent.
    pub fn ratio_4xx(&self) -> f64 {
        pct(self.errors_4xx, self.requests)
    }
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * n as f64 / total as f64
    }
}

/// The name `meta.display` gives an id, or the id.
pub fn display_name(resp: &Value, dim: &str, id: &str) -> String {
    resp["meta"]["display"][dim][id]["name"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| id.to_string())
}

/// Rows of a `[dim, status_code]` query, worst 5xx ratio first.
pub fn health(resp: &Value, dim: &str) -> Vec<Health> {
    let mut by_id: BTreeMap<String, Health> = BTreeMap::new();
    for row in resp["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let e = &row["event"];
        let Some(id) = e[dim].as_str() else { continue };
        let code = match &e["status_code"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => "?".into(),
        };
        let n = e["request_count"].as_u64().unwrap_or(0);
        let h = by_id.entry(id.to_string()).or_insert_with(|| Health {
            id: id.to_string(),
            name: display_name(resp, dim, id),
            requests: 0,
            errors_5xx: 0,
            errors_4xx: 0,
            statuses: Vec::new(),
        });
        h.requests += n;
        match code.chars().next() {
            Some('5') => h.errors_5xx += n,
            Some('4') => h.errors_4xx += n,
            _ => {}
        }
        h.statuses.push((code, n));
    }
    let mut rows: Vec<Health> = by_id.into_values().collect();
    for r in &mut rows {
        r.statuses.sort_by_key(|s| std::cmp::Reverse(s.1));
    }
    rows.sort_by(|a, b| {
        b.ratio_5xx()
            .total_cmp(&a.ratio_5xx())
            .then(b.requests.cmp(&a.requests))
    });
    rows
}

/// The health table; routes under `min_requests` are marked as too quiet to judge.
pub fn render(rows: &[Health], include_4xx: bool, min_requests: u64) -> String {
    let mut headers = vec!["NAME", "REQUESTS", "5XX%"];
    if include_4xx {
        headers.push("4XX%");
    }
    headers.extend(["TOP STATUSES", "NOTE"]);
    let mut t = Table::new(headers);
    for r in rows {
        let top: Vec<String> = r
            .statuses
            .iter()
            .take(3)
            .map(|(c, n)| format!("{c}x{n}"))
            .collect();
        let note = if r.requests < min_requests {
            format!("low traffic (<{min_requests}): ratio not conclusive")
        } else if r.ratio_5xx() >= 50.0 {
            "FAILING".to_string()
        } else if r.ratio_5xx() >= 5.0 {
            "degraded".to_string()
        } else {
            String::new()
        };
        let mut cells = vec![
            r.name.clone(),
            r.requests.to_string(),
            format!("{:.1}", r.ratio_5xx()),
        ];
        if include_4xx {
            cells.push(format!("{:.1}", r.ratio_4xx()));
        }
        cells.extend([top.join(" "), note]);
        t.row(cells);
    }
    t.render()
}

/// Requests by status class in one time bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    pub time: String,
    pub classes: BTreeMap<String, u64>,
}

impl Bucket {
    /// All requests in the bucket.
    pub fn total(&self) -> u64 {
        self.classes.values().sum()
    }
    /// 5xx share in percent.
    pub fn ratio_5xx(&self) -> f64 {
        pct(self.classes.get("5XX").copied().unwrap_or(0), self.total())
    }
}

/// Buckets of a `[time, status_code_grouped]` query, oldest first.
pub fn series(resp: &Value) -> Vec<Bucket> {
    let mut by_time: BTreeMap<String, Bucket> = BTreeMap::new();
    for row in resp["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let time = row["timestamp"].as_str().unwrap_or_default().to_string();
        let class = row["event"]["status_code_grouped"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let n = row["event"]["request_count"].as_u64().unwrap_or(0);
        let b = by_time.entry(time.clone()).or_insert_with(|| Bucket {
            time,
            ..Default::default()
        });
        *b.classes.entry(class).or_default() += n;
    }
    by_time.into_values().collect()
}

/// The series table plus the first bucket where 5xx reached half the traffic.
pub fn render_series(buckets: &[Bucket]) -> String {
    let mut t = Table::new(["TIME", "REQUESTS", "2XX", "4XX", "5XX", "5XX%"]);
    for b in buckets {
        let c = |k: &str| b.classes.get(k).copied().unwrap_or(0).to_string();
        t.row([
            b.time.clone(),
            b.total().to_string(),
            c("2XX"),
            c("4XX"),
            c("5XX"),
            format!("{:.1}", b.ratio_5xx()),
        ]);
    }
    let onset = buckets
        .iter()
        .position(|b| b.ratio_5xx() >= 50.0)
        .filter(|i| *i > 0 || buckets.len() == 1)
        .map(|i| format!("5xx onset: bucket starting {}\n", buckets[i].time))
        .unwrap_or_default();
    format!("{onset}{}", t.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ratios_top_statuses_and_names_come_from_one_query() {
        let resp = json!({"data": [
            {"timestamp": "t", "event": {"route": "cp:a", "status_code": "503", "request_count": 90}},
            {"timestamp": "t", "event": {"route": "cp:a", "status_code": "200", "request_count": 10}},
            {"timestamp": "t", "event": {"route": "cp:b", "status_code": "200", "request_count": 20}},
            {"timestamp": "t", "event": {"route": "cp:b", "status_code": "404", "request_count": 20}},
        ], "meta": {"display": {"route": {"cp:a": {"id": "cp:a", "name": "orders-route"}}}}});
        let rows = health(&resp, "route");
        assert_eq!(rows[0].name, "orders-route");
        assert_eq!((rows[0].requests, rows[0].ratio_5xx()), (100, 90.0));
        assert_eq!(rows[0].statuses[0], ("503".to_string(), 90));
        assert_eq!(rows[1].name, "cp:b", "no display entry: the id");
        assert_eq!(rows[1].ratio_4xx(), 50.0);
        let text = render(&rows, true, 60);
        assert!(
            text.contains("FAILING") && text.contains("low traffic"),
            "{text}"
        );
    }

    #[test]
    fn the_series_names_the_onset_bucket() {
        let resp = json!({"data": [
            {"timestamp": "10:00", "event": {"status_code_grouped": "2XX", "request_count": 100}},
            {"timestamp": "10:10", "event": {"status_code_grouped": "2XX", "request_count": 20}},
            {"timestamp": "10:10", "event": {"status_code_grouped": "5XX", "request_count": 80}},
        ]});
        let text = render_series(&series(&resp));
        assert!(
            text.starts_with("5xx onset: bucket starting 10:10"),
            "{text}"
        );
    }
}
