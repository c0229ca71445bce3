//! What a decK `kong.yaml` change touched: services, routes and plugins (with their scope:
//! a service, a route, or global), compared by name between two versions of the file. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Entities a change touched, and which service each route belongs to (after the change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub services: BTreeSet<String>,
    pub routes: BTreeSet<String>,
    /// `global`, `service:NAME` or `route:NAME` for each touched plugin, as `scope/plugin`.
    pub plugins: BTreeSet<String>,
    pub route_service: BTreeMap<String, String>,
}

impl Touched {
    /// Whether the change touched `route`, its service, or a global plugin.
    pub fn affects(&self, route: &str) -> Option<String> {
        if self.routes.contains(route) {
            return Some(format!("changed route {route}"));
        }
        if self
            .plugins
            .iter()
            .any(|p| p.starts_with(&format!("route:{route}/")))
        {
            return Some(format!("changed a plugin on route {route}"));
        }
        if let Some(svc) = self.route_service.get(route) {
            if self.services.contains(svc) {
                return Some(format!("changed service {svc} of route {route}"));
            }
            if self
                .plugins
                .iter()
                .any(|p| p.starts_with(&format!("service:{svc}/")))
            {
                return Some(format!(
                    "changed a plugin on service {svc} of route {route}"
                ));
            }
        }
        self.plugins
            .iter()
            .find(|p| p.starts_with("global/"))
            .map(|p| format!("changed global plugin {}", &p["global/".len()..]))
    }
}

#[derive(Default)]
struct Flat {
    services: BTreeMap<String, Value>,
    routes: BTreeMap<String, (Value, Option<String>)>,
    plugins: BTreeMap<String, Value>,
}

fn name(v: &Value) -> String {
    v["name"].as_str().unwrap_or("").to_string()
}

fn strip(v: &Value, keys: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

fn flatten(doc: &Value) -> Flat {
    let mut f = Flat::default();
    let plugin = |f: &mut Flat, scope: String, p: &Value| {
        f.plugins.insert(format!("{scope}/{}", name(p)), p.clone());
    };
    let route = |f: &mut Flat, svc: Option<String>, r: &Value| {
        let rn = name(r);
        for p in r["plugins"].as_array().into_iter().flatten() {
            plugin(f, format!("route:{rn}"), p);
        }
        f.routes.insert(rn, (strip(r, &["plugins"]), svc));
    };
    for s in doc["services"].as_array().into_iter().flatten() {
        let sn = name(s);
        for r in s["routes"].as_array().into_iter().flatten() {
            route(&mut f, Some(sn.clone()), r);
        }
        for p in s["plugins"].as_array().into_iter().flatten() {
            plugin(&mut f, format!("service:{sn}"), p);
        }
        f.services.insert(sn, strip(s, &["routes", "plugins"]));
    }
    for r in doc["routes"].as_array().into_iter().flatten() {
        let svc = r["service"].as_str().map(str::to_string);
        route(&mut f, svc, r);
    }
    for p in doc["plugins"].as_array().into_iter().flatten() {
        let scope = match (p["route"].as_str(), p["service"].as_str()) {
            (Some(r), _) => format!("route:{r}"),
            (None, Some(s)) => format!("service:{s}"),
            _ => "global".to_string(),
        };
        plugin(&mut f, scope, p);
    }
    f
}

fn changed<V: PartialEq>(a: &BTreeMap<String, V>, b: &BTreeMap<String, V>) -> BTreeSet<String> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Parses a decK file (YAML or JSON).
pub fn parse(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

/// What changed from `before` (None: the file was added) to `after`.
pub fn touched(before: Option<&Value>, after: &Value) -> Touched {
    let a = before.map(flatten).unwrap_or_default();
    let b = flatten(after);
    let route_service = b
        .routes
        .iter()
        .chain(a.routes.iter())
        .filter_map(|(r, (_, s))| Some((r.clone(), s.clone()?)))
        .collect();
    Touched {
        services: changed(&a.services, &b.services),
        routes: changed(&a.routes, &b.routes),
        plugins: changed(&a.plugins, &b.plugins),
        route_service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "services:\n  - name: orders\n    host: orders\n    routes:\n      - {name: orders-route, paths: [/orders]}\n  - name: catalog\n    host: catalog\n    routes:\n      - {name: catalog-route, paths: [/catalog]}\nplugins:\n  - {name: correlation-id}\n";

    #[test]
    fn a_service_change_affects_its_routes_only() {
        let after = BEFORE.replace("host: orders", "host: orders-v2");
        let t = touched(Some(&parse(BEFORE).unwrap()), &parse(&after).unwrap());
        assert_eq!(t.services.iter().collect::<Vec<_>>(), ["orders"]);
        assert!(t.routes.is_empty() && t.plugins.is_empty());
        assert!(
            t.affects("orders-route")
                .unwrap()
                .contains("service orders")
        );
        assert_eq!(t.affects("catalog-route"), None);
    }

    #[test]
    fn plugins_are_scoped_to_their_route_service_or_everything() {
        let after = BEFORE.replace(
            "      - {name: orders-route, paths: [/orders]}",
            "      - {name: orders-route, paths: [/orders], plugins: [{name: request-termination, config: {status_code: 503}}]}",
        );
        let t = touched(Some(&parse(BEFORE).unwrap()), &parse(&after).unwrap());
        assert_eq!(
            t.plugins.iter().collect::<Vec<_>>(),
            ["route:orders-route/request-termination"]
        );
        assert!(
            t.affects("orders-route")
                .unwrap()
                .contains("plugin on route")
        );
        assert_eq!(t.affects("catalog-route"), None);
        let global = BEFORE.replace(
            "{name: correlation-id}",
            "{name: correlation-id, config: {header_name: X}}",
        );
        let t = touched(Some(&parse(BEFORE).unwrap()), &parse(&global).unwrap());
        assert!(
            t.affects("catalog-route")
                .unwrap()
                .contains("global plugin correlation-id")
        );
    }
}
