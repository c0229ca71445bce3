//! The `mcp-konnect` tools: a struct holding the client, the name resolver and the metrics
//! gate, one method per tool.

use std::sync::Arc;

use mcp_runtime::budget::{self, Table};
use mcp_runtime::fence::untrusted;
use mcp_runtime::filter::Toolsets;
use mcp_runtime::{ToolError, ToolResult, ToolServer};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use serde_json::{Value, json};

pub use crate::args::*;
use crate::client::Konnect;
use crate::health;
use crate::limiter::{Exhausted, MetricsGate};
use crate::query::{self, Filter};
use crate::resolve::{ControlPlane, Resolver};

/// The Konnect MCP server.
#[derive(Clone)]
pub struct KonnectServer {
    pub(crate) api: Arc<Konnect>,
    pub(crate) resolver: Arc<Resolver>,
    pub(crate) gate: Arc<MetricsGate>,
}

impl KonnectServer {
    /// A server over `api`; `allowed` control planes (empty: all); `gate` shared by all calls.
    pub fn new(api: Konnect, allowed: Vec<String>, gate: MetricsGate) -> Self {
        let api = Arc::new(api);
        Self {
            resolver: Arc::new(Resolver::new(api.clone(), allowed)),
            api,
            gate: Arc::new(gate),
        }
    }
}

fn done(r: ToolResult<CallToolResult>) -> CallToolResult {
    r.unwrap_or_else(ToolError::into_result)
}

/// Parses `"route in orders-route,payments-route"` or `"consumer not_empty"`.
fn parse_filter(i: usize, text: &str) -> ToolResult<Filter> {
    let mut parts = text.split_whitespace();
    let (Some(field), Some(operator)) = (parts.next(), parts.next()) else {
        return Err(ToolError::invalid(
            format!("filters[{i}]"),
            "write FIELD OP [VALUES], e.g. \"route in orders-route\"",
        ));
    };
    let values: Vec<String> = parts
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Filter {
        field: field.to_string(),
        operator: operator.to_string(),
        values,
    })
}

#[tool_router]
impl KonnectServer {
    #[tool(
        description = "Per route/service: requests, 5xx ratio, top statuses; or a time series. One query.",
        annotations(
            title = "Traffic health",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn traffic_health(&self, Parameters(a): Parameters<TrafficArgs>) -> CallToolResult {
        done(self.health(a).await)
    }

    #[tool(
        description = "Konnect analytics query, validated before sending.",
        annotations(
            title = "Metrics query",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn metrics_query(&self, Parameters(a): Parameters<MetricsArgs>) -> CallToolResult {
        done(self.raw_metrics(a).await)
    }

    #[tool(
        description = "Sample request records (status, latency, trace id), newest first.",
        annotations(
            title = "Sample requests",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn requests_sample(&self, Parameters(a): Parameters<RequestsArgs>) -> CallToolResult {
        done(self.requests(a).await)
    }

    #[tool(
        description = "List control planes.",
        annotations(
            title = "Control planes",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn control_planes(&self, Parameters(a): Parameters<PlanesArgs>) -> CallToolResult {
        done(self.planes(a).await)
    }

    #[tool(
        description = "List gateway services, routes, plugins or consumers (of a service/route).",
        annotations(
            title = "List entities",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn entities_list(&self, Parameters(a): Parameters<EntitiesArgs>) -> CallToolResult {
        done(self.list_entities(a).await)
    }

    #[tool(
        description = "One gateway entity as JSON.",
        annotations(
            title = "Get entity",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn entity_get(&self, Parameters(a): Parameters<EntityArgs>) -> CallToolResult {
        done(self.get_entity(a).await)
    }
}

impl KonnectServer {
    /// One `/v2/metrics` call through the cache and the shared rate gate.
    async fn metrics(&self, body: &Value) -> ToolResult<Value> {
        let key = body.to_string();
        if let Some(v) = self.gate.cached(&key) {
            return Ok(v);
        }
        self.gate
            .acquire()
            .await
            .map_err(|Exhausted(wait)| ToolError::RateLimited {
                service: "konnect",
                retry_after_secs: wait.as_secs() + 1,
            })?;
        let v: Value = self.api.post("/v2/metrics", body).await?;
        self.gate.store(key, v.clone());
        Ok(v)
    }

    pub(crate) async fn cp(&self, arg: &str) -> ToolResult<ControlPlane> {
        self.resolver.control_plane(arg).await
    }

    async fn health(&self, a: TrafficArgs) -> ToolResult<CallToolResult> {
        let cp = self.cp(&a.control_plane).await?;
        let (dim, label) = match a.by.trim() {
            "" | "route" | "routes" => ("route", "route"),
            "service" | "services" | "gateway_service" => ("gateway_service", "service"),
            _ => return Err(ToolError::invalid("by", "route or service")),
        };
        let mut filters = vec![Filter {
            field: "control_plane".into(),
            operator: "in".into(),
            values: vec![cp.id.clone()],
        }];
        let mut target = String::new();
        if !a.route.trim().is_empty() {
            filters.push(Filter {
                field: "route".into(),
                operator: "in".into(),
                values: vec![self.resolver.scoped(&cp, "route", &a.route).await?],
            });
            target = format!(" route {}", a.route.trim());
        }
        if !a.service.trim().is_empty() {
            filters.push(Filter {
                field: "gateway_service".into(),
                operator: "in".into(),
                values: vec![
                    self.resolver
                        .scoped(&cp, "gateway_service", &a.service)
                        .await?,
                ],
            });
            target = format!("{target} service {}", a.service.trim());
        }
        let window = if a.window.trim().is_empty() {
            "15m"
        } else {
            a.window.trim()
        };
        if a.series {
            if target.is_empty() {
                return Err(ToolError::invalid(
                    "series",
                    "a time series needs `route` or `service`",
                ));
            }
            let dims = vec!["time".to_string(), "status_code_grouped".to_string()];
            let body = query::validate(
                &["request_count".into()],
                &dims,
                &filters,
                window,
                Some(a.granularity.trim()),
                None,
            )?;
            let resp = self.metrics(&body).await?;
            let buckets = health::series(&resp);
            let data = json!({"control_plane": cp.name, "window": window,
                "start": resp["meta"]["start"], "end": resp["meta"]["end"],
                "buckets": buckets.iter().map(|b| json!({"time": b.time, "requests": b.total(),
                    "errors_5xx": b.classes.get("5XX").copied().unwrap_or(0),
                    "errors_4xx": b.classes.get("4XX").copied().unwrap_or(0)})).collect::<Vec<_>>()});
            return Ok(budget::with_hint(
                budget::text_with_data(
                    format!(
                        "{}{target}, {window} ({} to {}, {} s buckets)\n{}",
                        cp.name,
                        resp["meta"]["start"].as_str().unwrap_or("?"),
                        resp["meta"]["end"].as_str().unwrap_or("?"),
                        resp["meta"]["granularity_ms"].as_u64().unwrap_or(0) / 1000,
                        health::render_series(&buckets)
                    ),
                    data,
                ),
                "use a coarser granularity or a shorter window",
            ));
        }
        let dims = vec![dim.to_string(), "status_code".to_string()];
        let body = query::validate(
            &["request_count".into()],
            &dims,
            &filters,
            window,
            None,
            Some(1000),
        )?;
        let resp = self.metrics(&body).await?;
        let rows = health::health(&resp, dim);
        // The same numbers for programs (the rollback detector), never shown to a model.
        let data = json!({"control_plane": cp.name, "by": label, "window": window,
            "start": resp["meta"]["start"], "end": resp["meta"]["end"],
            "rows": rows.iter().map(|r| json!({"id": r.id, "name": r.name, "requests": r.requests,
                "errors_5xx": r.errors_5xx, "errors_4xx": r.errors_4xx})).collect::<Vec<_>>()});
        if rows.is_empty() {
            return Ok(budget::text_with_data(
                format!("{}{target}: no traffic in the last {window}", cp.name),
                data,
            ));
        }
        let min = 50;
        Ok(budget::text_with_data(
            format!(
                "{} traffic by {label}, last {window} ({} to {}){}\n{}",
                cp.name,
                resp["meta"]["start"].as_str().unwrap_or("?"),
                resp["meta"]["end"].as_str().unwrap_or("?"),
                if resp["meta"]["truncated"] == true {
                    ", truncated to the busiest 1000"
                } else {
                    ""
                },
                health::render(&rows, a.include_4xx, min)
            ),
            data,
        ))
    }

    async fn raw_metrics(&self, a: MetricsArgs) -> ToolResult<CallToolResult> {
        let cp = self.cp(&a.control_plane).await?;
        let mut filters = Vec::new();
        for (i, text) in a.filters.iter().enumerate() {
            let f = parse_filter(i, text)?;
            let mut values = Vec::new();
            for v in &f.values {
                values.push(if query::SCOPED.contains(&f.field.as_str()) {
                    self.resolver.scoped(&cp, &f.field, v).await.map_err(|e| {
                        ToolError::invalid(format!("filters[{i}].value"), e.to_string())
                    })?
                } else {
                    v.clone()
                });
            }
            filters.push(Filter {
                field: f.field.clone(),
                operator: f.operator.clone(),
                values,
            });
        }
        if !filters.iter().any(|f| f.field == "control_plane") {
            filters.push(Filter {
                field: "control_plane".into(),
                operator: "in".into(),
                values: vec![cp.id.clone()],
            });
        }
        let window = if a.window.trim().is_empty() {
            "1h"
        } else {
            a.window.trim()
        };
        let body = query::validate(
            &a.metrics,
            &a.dimensions,
            &filters,
            window,
            Some(a.granularity.trim()),
            a.limit,
        )?;
        let resp = self.metrics(&body).await?;
        let mut headers: Vec<String> = Vec::new();
        let has_time = a.dimensions.iter().any(|d| d == "time");
        if has_time {
            headers.push("TIME".into());
        }
        headers.extend(
            a.dimensions
                .iter()
                .filter(|d| *d != "time")
                .map(|d| d.to_uppercase()),
        );
        headers.extend(a.metrics.iter().map(|m| m.to_uppercase()));
        let mut t = Table::new(headers);
        for row in resp["data"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let mut cells = Vec::new();
            if has_time {
                cells.push(row["timestamp"].as_str().unwrap_or("").to_string());
            }
            for d in a.dimensions.iter().filter(|d| *d != "time") {
                let v = match &row["event"][d] {
                    Value::String(s) => health::display_name(&resp, d, s),
                    Value::Null => "-".into(),
                    other => other.to_string(),
                };
                cells.push(v);
            }
            for m in &a.metrics {
                cells.push(row["event"][m].to_string());
            }
            t.row(cells);
        }
        Ok(budget::with_hint(
            budget::text(format!(
                "{} rows, {} to {}, granularity {} s{}\n{}",
                t.len(),
                resp["meta"]["start"].as_str().unwrap_or("?"),
                resp["meta"]["end"].as_str().unwrap_or("?"),
                resp["meta"]["granularity_ms"].as_u64().unwrap_or(0) / 1000,
                if resp["meta"]["truncated"] == true {
                    ", truncated by limit"
                } else {
                    ""
                },
                t.render()
            )),
            "add filters, drop a dimension, or use a coarser granularity",
        ))
    }

    async fn requests(&self, a: RequestsArgs) -> ToolResult<CallToolResult> {
        let cp = self.cp(&a.control_plane).await?;
        let window = match a.window.trim().to_ascii_uppercase().as_str() {
            "" => "15M".to_string(),
            w @ ("15M" | "1H" | "6H" | "12H" | "24H" | "7D") => w.to_string(),
            _ => return Err(ToolError::invalid("window", "15m, 1h, 6h, 12h, 24h or 7d")),
        };
        let mut filters =
            vec![json!({"field": "control_plane", "operator": "in", "value": [cp.id]})];
        if !a.route.trim().is_empty() {
            filters.push(json!({"field": "route", "operator": "in", "value": [self.resolver.scoped(&cp, "route", &a.route).await?]}));
        }
        if !a.service.trim().is_empty() {
            filters.push(json!({"field": "gateway_service", "operator": "in", "value": [self.resolver.scoped(&cp, "gateway_service", &a.service).await?]}));
        }
        match a.status.trim().to_ascii_uppercase().as_str() {
            "" => {}
            s if s.len() == 3 && s.ends_with("XX") && s.starts_with(['1', '2', '3', '4', '5']) => {
                filters
                    .push(json!({"field": "status_code_grouped", "operator": "in", "value": [s]}));
            }
            s if s.parse::<u16>().is_ok_and(|n| (100..600).contains(&n)) => {
                let code: u16 = s.parse().unwrap_or_default();
                filters.push(json!({"field": "status_code", "operator": "in", "value": [code]}));
            }
            _ => {
                return Err(ToolError::invalid(
                    "status",
                    "a code like 503 or a class like 5XX",
                ));
            }
        }
        let limit = a.limit.unwrap_or(5).clamp(1, 20);
        let body = json!({"time_range": {"type": "relative", "time_range": window}, "filters": filters,
                          "order": "descending", "size": limit});
        let resp: Value = self.api.post("/v2/api-requests", &body).await?;
        let results = resp["results"].as_array().cloned().unwrap_or_default();
        if results.is_empty() {
            return Ok(budget::text(format!(
                "{}: no matching requests in the last {window}",
                cp.name
            )));
        }
        let names = self.resolver.entities(&cp.id).await.unwrap_or_default();
        let route_name = |scoped: &str| {
            let id = scoped.rsplit(':').next().unwrap_or(scoped);
            names
                .routes
                .iter()
                .find(|r| r.0 == id)
                .map(|r| r.1.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let mut t = Table::new([
            "TIME",
            "STATUS",
            "UPSTREAM",
            "LATENCY_MS",
            "METHOD",
            "ROUTE",
            "TRACE_ID",
        ]);
        let mut uris = Table::new(["TRACE_ID", "URI"]);
        for r in &results {
            let trace = r["trace_id"].as_str().unwrap_or("-").to_string();
            t.row([
                r["request_start"].as_str().unwrap_or("-").to_string(),
                r["response_http_status"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| r["response_http_status"].to_string()),
                r["upstream_status"].to_string(),
                r["latencies_response_ms"].to_string(),
                r["http_method"].as_str().unwrap_or("-").to_string(),
                route_name(r["route"].as_str().unwrap_or("-")),
                trace.clone(),
            ]);
            uris.row([trace, r["request_uri"].as_str().unwrap_or("-").to_string()]);
        }
        Ok(budget::text(format!(
            "{}: {} sampled requests, last {window}\n{}\nrequest URIs (client-supplied):\n{}",
            cp.name,
            results.len(),
            t.render(),
            untrusted("request URIs", &uris.render())
        )))
    }
}

impl ToolServer for KonnectServer {
    const NAME: &'static str = "mcp-konnect";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DEFAULT_PORT: u16 = 8083;
    const TOOLSETS: Toolsets = &[
        (
            "analytics",
            &["traffic_health", "metrics_query", "requests_sample"],
        ),
        ("config", &["control_planes", "entities_list", "entity_get"]),
    ];

    fn tools() -> ToolRouter<Self> {
        Self::tool_router()
    }

    fn instructions(&self) -> String {
        "Kong Konnect, read-only. Start with traffic_health (one aggregated query for all routes). \
         Analytics allow 10 queries a minute shared by every caller; identical queries within 30 s \
         are cached. Names are resolved to ids for you. Request URIs are client-supplied data."
            .to_string()
    }
}
