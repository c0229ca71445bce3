//! Names to IDs: control planes by name or id (checked against the allow-list), and routes,
//! services and consumers by name or id to the scoped `control_plane_id:entity_id` form the
//! analytics API needs. Lookups are cached for a few minutes.

use mcp_runtime::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_runtime::ToolError;
use serde::Deserialize;
use serde_json::Value;

use crate::client::Konnect;

const TTL: Duration = Duration::from_secs(300);

/// A control plane's id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlane {
    pub id: String,
    pub name: String,
}

/// Names of one control plane's entities.
#[derive(Debug, Clone, Default)]
pub struct Entities {
    /// (id, name, service id)
    pub routes: Vec<(String, String, String)>,
    /// (id, name)
    pub services: Vec<(String, String)>,
    /// (id, username)
    pub consumers: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct CpPage {
    data: Vec<Value>,
    meta: Value,
}

#[derive(Deserialize)]
struct EntityPage {
    data: Vec<Value>,
    #[serde(default)]
    offset: Option<String>,
}

/// Resolves and caches names.
pub struct Resolver {
    api: Arc<Konnect>,
    allowed: Vec<String>,
    cps: Mutex<Option<(Instant, Vec<ControlPlane>)>>,
    entities: Mutex<HashMap<String, (Instant, Entities)>>,
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl Resolver {
    /// A resolver limited to `allowed` control planes (names or ids; empty: all).
    pub fn new(api: Arc<Konnect>, allowed: Vec<String>) -> Self {
        Self {
            api,
            allowed: allowed
                .into_iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            cps: Mutex::new(None),
            entities: Mutex::new(HashMap::new()),
        }
    }

    /// Every control plane the token sees (cached).
    pub async fn control_planes(&self) -> Result<Vec<ControlPlane>, ToolError> {
        if let Some((at, cps)) = lock(&self.cps).as_ref()
            && at.elapsed() < TTL
        {
            return Ok(cps.clone());
        }
        let mut all = Vec::new();
        for number in 1..=50u32 {
            let page: CpPage = self
                .api
                .get(
                    "/v2/control-planes",
                    &[
                        ("page[size]", "100".into()),
                        ("page[number]", number.to_string()),
                    ],
                )
                .await?;
            let n = page.data.len();
            all.extend(page.data.iter().map(|c| ControlPlane {
                id: c["id"].as_str().unwrap_or_default().to_string(),
                name: c["name"].as_str().unwrap_or_default().to_string(),
            }));
            let total = page.meta["page"]["total"].as_u64().unwrap_or(0) as usize;
            if n == 0 || all.len() >= total {
                break;
            }
        }
        *lock(&self.cps) = Some((Instant::now(), all.clone()));
        Ok(all)
    }

    /// Whether `cp` is in the allow-list (an empty list allows all).
    pub fn allows(&self, cp: &ControlPlane) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|a| *a == cp.id || *a == cp.name)
    }

    /// The control plane named by `arg` (name or id; empty: the only allowed one).
    pub async fn control_plane(&self, arg: &str) -> Result<ControlPlane, ToolError> {
        let arg = arg.trim();
        let visible: Vec<ControlPlane> = self
            .control_planes()
            .await?
            .into_iter()
            .filter(|c| self.allows(c))
            .collect();
        if arg.is_empty() {
            return match visible.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(ToolError::NotFound(
                    "no control plane is visible to this token and allow-list".into(),
                )),
                many => Err(ToolError::invalid(
                    "control_plane",
                    format!(
                        "several control planes: pass one of {}",
                        many.iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            };
        }
        if !self.allowed.is_empty()
            && !self.allowed.iter().any(|a| a == arg)
            && !visible.iter().any(|c| c.id == arg || c.name == arg)
        {
            return Err(ToolError::Denied(format!(
                "control plane {arg} is not in this server's allow-list ({})",
                self.allowed.join(", ")
            )));
        }
        visible
            .into_iter()
            .find(|c| c.id == arg || c.name == arg)
            .ok_or_else(|| ToolError::NotFound(format!("no control plane named or with id {arg}")))
    }

    async fn fetch(&self, cp: &str, kind: &str) -> Result<Vec<Value>, ToolError> {
        let mut out = Vec::new();
        let mut offset = String::new();
        for _ in 0..50 {
            let page: EntityPage = self
                .api
                .get(
                    &format!("/v2/control-planes/{cp}/core-entities/{kind}"),
                    &[("size", "1000".into()), ("offset", offset.clone())],
                )
                .await?;
            out.extend(page.data);
            match page.offset {
                Some(o) if !o.is_empty() => offset = o,
                _ => break,
            }
        }
        Ok(out)
    }

    /// Routes, services and consumers of a control plane (cached).
    pub async fn entities(&self, cp: &str) -> Result<Entities, ToolError> {
        if let Some((at, e)) = lock(&self.entities).get(cp)
            && at.elapsed() < TTL
        {
            return Ok(e.clone());
        }
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        let (routes, services, consumers) = tokio::try_join!(
            self.fetch(cp, "routes"),
            self.fetch(cp, "services"),
            self.fetch(cp, "consumers")
        )?;
        let e = Entities {
            routes: routes
                .iter()
                .map(|r| (s(r, "id"), s(r, "name"), s(&r["service"], "id")))
                .collect(),
            services: services
                .iter()
                .map(|v| (s(v, "id"), s(v, "name")))
                .collect(),
            consumers: consumers
                .iter()
                .map(|v| (s(v, "id"), s(v, "username")))
                .collect(),
        };
        lock(&self.entities).insert(cp.to_string(), (Instant::now(), e.clone()));
        Ok(e)
    }

    /// `value` (a name, an id, or already `cp:id`) as the scoped id of a `field` entity.
    pub async fn scoped(
        &self,
        cp: &ControlPlane,
        field: &str,
        value: &str,
    ) -> Result<String, ToolError> {
        let value = value.trim();
        if value.contains(':') {
            return Ok(value.to_string());
        }
        if is_uuid(value) {
            return Ok(format!("{}:{value}", cp.id));
        }
        let e = self.entities(&cp.id).await?;
        let found = match field {
            "route" => e.routes.iter().find(|r| r.1 == value).map(|r| r.0.clone()),
            "gateway_service" => e
                .services
                .iter()
                .find(|r| r.1 == value)
                .map(|r| r.0.clone()),
            "consumer" => e
                .consumers
                .iter()
                .find(|r| r.1 == value)
                .map(|r| r.0.clone()),
            _ => Some(value.to_string()),
        };
        found.map(|id| format!("{}:{id}", cp.id)).ok_or_else(|| {
            ToolError::NotFound(format!(
                "no {field} named {value} in control plane {}",
                cp.name
            ))
        })
    }
}
