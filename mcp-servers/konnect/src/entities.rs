//! The gateway configuration tools: control planes, entity lists and single entities.

use mcp_runtime::budget::{self, Table};
use mcp_runtime::fence::Untrusted;
use mcp_runtime::{ToolError, ToolResult};
use rmcp::model::CallToolResult;
use serde_json::Value;

use crate::args::{EntitiesArgs, EntityArgs, PlanesArgs};
use crate::server::KonnectServer;

const KINDS: &[&str] = &["services", "routes", "plugins", "consumers"];

fn kind(k: &str) -> ToolResult<&str> {
    let k = k.trim();
    KINDS
        .iter()
        .find(|x| **x == k || x.trim_end_matches('s') == k)
        .copied()
        .ok_or_else(|| ToolError::invalid("kind", "services, routes, plugins or consumers"))
}

fn segment(v: &str) -> ToolResult<&str> {
    let v = v.trim();
    if v.is_empty() || v.contains(['/', '?', '#']) {
        return Err(ToolError::invalid("id", "an id or name without / ? #"));
    }
    Ok(v)
}

impl KonnectServer {
    pub(crate) async fn planes(&self, a: PlanesArgs) -> ToolResult<CallToolResult> {
        let mut t = Table::new(["ID", "NAME", "TYPE", "LABELS", "ENDPOINT"]);
        // Every page (Konnect serves at most 100 per page), and only what the allow-list
        // admits: a plane outside it is not named, not even counted.
        for number in 1..=50u32 {
            let resp: Value = self
                .api
                .get(
                    "/v2/control-planes",
                    &[
                        ("page[size]", "100".into()),
                        ("page[number]", number.to_string()),
                        ("filter[name][contains]", a.name.trim().to_string()),
                    ],
                )
                .await?;
            let page = resp["data"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            for c in page {
                let cp = crate::resolve::ControlPlane {
                    id: c["id"].as_str().unwrap_or_default().to_string(),
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                };
                if !self.resolver.allows(&cp) {
                    continue;
                }
                let labels: Vec<String> = c["labels"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                            .collect()
                    })
                    .unwrap_or_default();
                t.row([
                    cp.id,
                    cp.name,
                    c["config"]["cluster_type"]
                        .as_str()
                        .unwrap_or("-")
                        .trim_start_matches("CLUSTER_TYPE_")
                        .to_lowercase(),
                    labels.join(","),
                    c["config"]["control_plane_endpoint"]
                        .as_str()
                        .unwrap_or("-")
                        .to_string(),
                ]);
            }
            let total = resp["meta"]["page"]["total"].as_u64().unwrap_or(0);
            if page.is_empty() || u64::from(number) * 100 >= total {
                break;
            }
        }
        Ok(budget::text(format!(
            "{} control planes\n{}",
            t.len(),
            Untrusted::new("control planes", t.render())
        )))
    }

    pub(crate) async fn list_entities(&self, a: EntitiesArgs) -> ToolResult<CallToolResult> {
        let cp = self.cp(&a.control_plane).await?;
        let k = kind(&a.kind)?;
        let path = match (a.service.trim(), a.route.trim()) {
            ("", "") => format!("/v2/control-planes/{}/core-entities/{k}", cp.id),
            (s, "") if matches!(k, "routes" | "plugins") => format!(
                "/v2/control-planes/{}/core-entities/services/{}/{k}",
                cp.id,
                segment(s)?
            ),
            ("", r) if k == "plugins" => format!(
                "/v2/control-planes/{}/core-entities/routes/{}/{k}",
                cp.id,
                segment(r)?
            ),
            _ => {
                return Err(ToolError::invalid(
                    "service",
                    "nest routes/plugins under a service, or plugins under a route",
                ));
            }
        };
        let resp: Value = self
            .api
            .get(
                &path,
                &[
                    ("size", "100".into()),
                    ("offset", a.cursor.trim().to_string()),
                    ("tags", a.tags.trim().to_string()),
                ],
            )
            .await?;
        let data = resp["data"].as_array().cloned().unwrap_or_default();
        let text = match k {
            "services" => {
                let mut t = Table::new(["NAME", "ID", "UPSTREAM", "ENABLED", "TAGS"]);
                for s in &data {
                    t.row([
                        s["name"].as_str().unwrap_or("-").to_string(),
                        s["id"].as_str().unwrap_or("-").to_string(),
                        format!(
                            "{}://{}:{}{}",
                            s["protocol"].as_str().unwrap_or("http"),
                            s["host"].as_str().unwrap_or("?"),
                            s["port"],
                            s["path"].as_str().unwrap_or("")
                        ),
                        s["enabled"].to_string(),
                        tags(s),
                    ]);
                }
                t.render()
            }
            "routes" => {
                let names = self.resolver.entities(&cp.id).await.unwrap_or_default();
                let mut t = Table::new(["NAME", "ID", "PATHS", "METHODS", "SERVICE"]);
                for r in &data {
                    let sid = r["service"]["id"].as_str().unwrap_or("-");
                    t.row([
                        r["name"].as_str().unwrap_or("-").to_string(),
                        r["id"].as_str().unwrap_or("-").to_string(),
                        list(&r["paths"]),
                        list(&r["methods"]),
                        names
                            .services
                            .iter()
                            .find(|s| s.0 == sid)
                            .map(|s| s.1.clone())
                            .unwrap_or_else(|| sid.to_string()),
                    ]);
                }
                t.render()
            }
            "plugins" => {
                let mut t = Table::new(["NAME", "ID", "ENABLED", "SCOPE", "CONFIG"]);
                for p in &data {
                    let scope = if !p["route"].is_null() {
                        format!("route {}", p["route"]["id"].as_str().unwrap_or("?"))
                    } else if !p["service"].is_null() {
                        format!("service {}", p["service"]["id"].as_str().unwrap_or("?"))
                    } else {
                        "global".into()
                    };
                    let mut config = p["config"].to_string();
                    mcp_runtime::text::truncate(&mut config, 120);
                    t.row([
                        p["name"].as_str().unwrap_or("-").to_string(),
                        p["id"].as_str().unwrap_or("-").to_string(),
                        p["enabled"].to_string(),
                        scope,
                        config,
                    ]);
                }
                t.render()
            }
            _ => {
                let mut t = Table::new(["USERNAME", "ID", "TAGS"]);
                for c in &data {
                    t.row([
                        c["username"].as_str().unwrap_or("-").to_string(),
                        c["id"].as_str().unwrap_or("-").to_string(),
                        tags(c),
                    ]);
                }
                t.render()
            }
        };
        let more = resp["offset"]
            .as_str()
            .filter(|o| !o.is_empty())
            .map(|o| format!("\nmore: cursor=\"{o}\""))
            .unwrap_or_default();
        Ok(budget::text(format!(
            "{}: {} {k}\n{}{more}",
            cp.name,
            data.len(),
            Untrusted::new(format!("{k} of {}", cp.name), text)
        )))
    }

    pub(crate) async fn get_entity(&self, a: EntityArgs) -> ToolResult<CallToolResult> {
        let cp = self.cp(&a.control_plane).await?;
        let k = kind(&a.kind)?;
        let v: Value = self
            .api
            .get(
                &format!(
                    "/v2/control-planes/{}/core-entities/{k}/{}",
                    cp.id,
                    segment(&a.id)?
                ),
                &[],
            )
            .await?;
        // Names, tags and plugin configuration are anyone's words: the text is one fence.
        let text = Untrusted::new(format!("{k} {} of {}", a.id.trim(), cp.name), v.to_string());
        Ok(budget::text_with_data(text.to_string(), v))
    }
}

fn tags(v: &Value) -> String {
    list(&v["tags"])
}

fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}
