//! Control planes and gateway entities in the shapes Konnect returns.

use serde_json::{Value, json};

use super::scenario::{ControlPlane, Plugin, Route, Scenario, Service};

/// When the emulated entities were created (2026-01-01T00:00:00Z).
const CREATED: i64 = 1_767_225_600;

/// A control plane.
pub fn control_plane(cp: &ControlPlane) -> Value {
    let short = &cp.id[..8.min(cp.id.len())];
    json!({
        "id": cp.id, "name": cp.name, "description": cp.description, "labels": cp.labels,
        "config": {
            "control_plane_endpoint": format!("https://{short}.us.cp0.konghq.com"),
            "telemetry_endpoint": format!("https://{short}.us.tp0.konghq.com"),
            "cluster_type": "CLUSTER_TYPE_CONTROL_PLANE", "auth_type": "pinned_client_certs",
            "cloud_gateway": false, "proxy_urls": [],
        },
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
    })
}

/// A gateway service.
pub fn service(s: &Service) -> Value {
    json!({
        "id": s.id, "name": s.name, "host": s.host, "port": s.port, "protocol": s.protocol,
        "path": s.path, "retries": 5, "connect_timeout": 60000, "write_timeout": 60000,
        "read_timeout": 60000, "enabled": true, "tags": s.tags,
        "created_at": CREATED, "updated_at": CREATED,
    })
}

/// A route of `service_id`.
pub fn route(r: &Route, service_id: &str) -> Value {
    json!({
        "id": r.id, "name": r.name, "paths": r.paths,
        "methods": if r.methods.is_empty() { Value::Null } else { json!(r.methods) },
        "protocols": ["http", "https"], "strip_path": false, "preserve_host": false,
        "regex_priority": 0, "path_handling": "v0", "https_redirect_status_code": 426,
        "request_buffering": true, "response_buffering": true,
        "service": {"id": service_id}, "tags": r.tags,
        "created_at": CREATED, "updated_at": CREATED,
    })
}

/// A plugin, scoped to a service or route (or global).
pub fn plugin(p: &Plugin, service: Option<&str>, route: Option<&str>) -> Value {
    json!({
        "id": p.id, "name": p.name, "config": p.config, "enabled": p.enabled,
        "protocols": ["grpc", "grpcs", "http", "https"],
        "service": service.map(|id| json!({"id": id})), "route": route.map(|id| json!({"id": id})),
        "consumer": null, "tags": p.tags, "created_at": CREATED, "updated_at": CREATED,
    })
}

/// Every entity of `kind` in a control plane, optionally nested under a service or route.
pub fn list(
    s: &Scenario,
    cp: &str,
    kind: &str,
    parent: Option<(&str, &str)>,
) -> Option<Vec<Value>> {
    let cp = s.control_plane(cp)?;
    let matches = |id: &str, name: &str, key: &str| id == key || name == key;
    let out = match (kind, parent) {
        ("services", None) => cp.services.iter().map(service).collect(),
        ("routes", None) => cp
            .services
            .iter()
            .flat_map(|s| s.routes.iter().map(|r| route(r, &s.id)))
            .collect(),
        ("consumers", None) => cp
            .consumers
            .iter()
            .map(|c| {
                json!({"id": c.id, "username": c.username, "custom_id": null, "tags": c.tags,
                            "created_at": CREATED, "updated_at": CREATED})
            })
            .collect(),
        ("plugins", None) => {
            let mut all: Vec<Value> = cp.plugins.iter().map(|p| plugin(p, None, None)).collect();
            for s in &cp.services {
                all.extend(s.plugins.iter().map(|p| plugin(p, Some(&s.id), None)));
                for r in &s.routes {
                    all.extend(r.plugins.iter().map(|p| plugin(p, None, Some(&r.id))));
                }
            }
            all
        }
        ("routes", Some(("services", key))) => {
            let svc = cp.services.iter().find(|s| matches(&s.id, &s.name, key))?;
            svc.routes.iter().map(|r| route(r, &svc.id)).collect()
        }
        ("plugins", Some(("services", key))) => {
            let svc = cp.services.iter().find(|s| matches(&s.id, &s.name, key))?;
            svc.plugins
                .iter()
                .map(|p| plugin(p, Some(&svc.id), None))
                .collect()
        }
        ("plugins", Some(("routes", key))) => {
            let r = cp
                .services
                .iter()
                .flat_map(|s| s.routes.iter())
                .find(|r| matches(&r.id, &r.name, key))?;
            r.plugins
                .iter()
                .map(|p| plugin(p, None, Some(&r.id)))
                .collect()
        }
        _ => return None,
    };
    Some(out)
}
