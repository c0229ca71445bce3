//! The tools' argument types (their JSON Schemas are what clients see).

use rmcp::schemars;
use serde::Deserialize;

/// Arguments of `traffic_health`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TrafficArgs {
    #[serde(default)]
    pub control_plane: String,
    /// route (default) or service
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub window: String,
    #[serde(default)]
    pub route: String,
    #[serde(default)]
    pub service: String,
    /// Needs route or service
    #[serde(default)]
    pub series: bool,
    #[serde(default)]
    pub granularity: String,
    #[serde(default)]
    pub include_4xx: bool,
}

/// Arguments of `metrics_query`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct MetricsArgs {
    #[serde(default)]
    pub control_plane: String,
    /// 1-3, e.g. request_count, error_rate
    pub metrics: Vec<String>,
    /// 0-2, e.g. route, status_code, time
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// "FIELD OP [V1,V2]", e.g. "route in orders-route"
    #[serde(default)]
    pub filters: Vec<String>,
    #[serde(default)]
    pub window: String,
    #[serde(default)]
    pub granularity: String,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `requests_sample`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RequestsArgs {
    #[serde(default)]
    pub control_plane: String,
    #[serde(default)]
    pub route: String,
    #[serde(default)]
    pub service: String,
    /// 503 or 5XX
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub window: String,
    #[serde(default)]
    pub limit: Option<u8>,
}

/// Arguments of `control_planes`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PlanesArgs {
    #[serde(default)]
    pub name: String,
}

/// Arguments of `entities_list`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EntitiesArgs {
    #[serde(default)]
    pub control_plane: String,
    pub kind: String,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub route: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub cursor: String,
}

/// Arguments of `entity_get`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EntityArgs {
    #[serde(default)]
    pub control_plane: String,
    pub kind: String,
    pub id: String,
}
