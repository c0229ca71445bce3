//! Konnect's vendor OpenAPI documents (vendored under `tests/sandbox/specs/konnect/`) turned
//! into JSON Schema validators, so the emulator can answer invalid requests the way Konnect does
//! and tests can check every response against the documented shape.
//!
//! Each validator is the whole document with a root `$ref` to the schema in question, so every
//! `$ref` inside the document resolves. OpenAPI 3.0's `nullable: true` becomes a `null` type
//! alternative and its boolean `exclusiveMinimum`/`exclusiveMaximum` become numeric ones.

use std::path::{Path, PathBuf};

use jsonschema::Validator;
use serde_json::{Map, Value, json};

/// One invalid field, as Konnect lists it in `invalid_parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub rule: String,
    pub reason: String,
}

impl Invalid {
    /// As a JSON entry of `invalid_parameters`.
    pub fn to_json(&self) -> Value {
        json!({"field": self.field, "rule": self.rule, "reason": self.reason})
    }
}

/// A spec that failed to load or compile.
#[derive(Debug, thiserror::Error)]
#[error("Konnect spec {file}: {message}")]
pub struct SpecError {
    pub file: String,
    pub message: String,
}

/// The vendored spec directory.
pub fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/konnect")
}

/// An OpenAPI document prepared for validation.
pub struct Spec {
    file: String,
    doc: Value,
}

fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                to_json_schema(child);
            }
            for (bound, limit) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(flag)) = map.get(bound).cloned() {
                    map.remove(bound);
                    if flag && let Some(n) = map.remove(limit) {
                        map.insert(bound.to_string(), n);
                    }
                }
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                make_nullable(map);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

fn make_nullable(map: &mut Map<String, Value>) {
    match map.get("type").cloned() {
        Some(Value::String(t)) => {
            map.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(e)) = map.get_mut("enum") {
                e.push(Value::Null);
            }
        }
        Some(Value::Array(mut ts)) => {
            ts.push(json!("null"));
            map.insert("type".into(), Value::Array(ts));
        }
        _ => {
            let inner = Value::Object(std::mem::take(map));
            map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
        }
    }
}

impl Spec {
    /// Loads `file` from the vendored directory.
    pub fn load(file: &str) -> Result<Self, SpecError> {
        let err = |message: String| SpecError {
            file: file.to_string(),
            message,
        };
        let text =
            std::fs::read_to_string(specs_dir().join(file)).map_err(|e| err(e.to_string()))?;
        let mut doc: Value = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
        to_json_schema(&mut doc);
        Ok(Self {
            file: file.to_string(),
            doc,
        })
    }

    /// A validator for the schema at `pointer` (a JSON pointer into the document, e.g.
    /// `/components/schemas/MetricsApiUsageQuery`).
    pub fn validator(&self, pointer: &str) -> Result<Validator, SpecError> {
        if self.doc.pointer(pointer).is_none() {
            return Err(SpecError {
                file: self.file.clone(),
                message: format!("no schema at {pointer}"),
            });
        }
        let mut root = self.doc.clone();
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        if let Value::Object(m) = &mut root {
            m.insert("$ref".into(), Value::String(format!("#{fragment}")));
            m.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
        }
        jsonschema::options()
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| SpecError {
                file: self.file.clone(),
                message: format!("{pointer}: {e}"),
            })
    }
}

/// Escapes a path for a JSON pointer (`/` → `~1`).
pub fn pointer_path(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// Every violation of `v` against `validator`, with dotted field names.
pub fn check(validator: &Validator, v: &Value) -> Vec<Invalid> {
    validator
        .iter_errors(v)
        .map(|e| {
            let field = e
                .instance_path()
                .as_str()
                .trim_start_matches('/')
                .replace('/', ".");
            let rule = match e.kind() {
                jsonschema::error::ValidationErrorKind::Required { .. } => "required",
                jsonschema::error::ValidationErrorKind::Enum { .. } => "enum",
                jsonschema::error::ValidationErrorKind::Type { .. } => "type",
                jsonschema::error::ValidationErrorKind::AdditionalProperties { .. } => {
                    "unknown_property"
                }
                jsonschema::error::ValidationErrorKind::MaxItems { .. } => "max_items",
                jsonschema::error::ValidationErrorKind::Maximum { .. } => "max",
                jsonschema::error::ValidationErrorKind::Pattern { .. } => "pattern",
                _ => "invalid",
            };
            Invalid {
                field: if field.is_empty() {
                    "body".into()
                } else {
                    field
                },
                rule: rule.to_string(),
                reason: e.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_and_boolean_exclusive_bounds_become_json_schema() {
        let mut v = json!({"type": "string", "nullable": true, "enum": ["a"],
                           "x": {"$ref": "#/a", "nullable": true},
                           "n": {"type": "number", "minimum": 1, "exclusiveMinimum": true}});
        to_json_schema(&mut v);
        assert_eq!(v["type"], json!(["string", "null"]));
        assert_eq!(v["enum"], json!(["a", null]));
        assert_eq!(
            v["x"],
            json!({"anyOf": [{"$ref": "#/a"}, {"type": "null"}]})
        );
        assert_eq!(v["n"], json!({"type": "number", "exclusiveMinimum": 1}));
    }

    #[test]
    fn metrics_queries_validate_against_the_vendor_schema() {
        let spec = Spec::load("analytics-metrics-v2.openapi.yaml").unwrap();
        let v = spec
            .validator("/components/schemas/MetricsApiUsageQuery")
            .unwrap();
        let good = json!({"metrics": ["request_count"], "dimensions": ["route", "status_code"],
            "time_range": {"type": "relative", "time_range": "15m"},
            "filters": [{"field": "route", "operator": "in",
                "value": ["0b6f4f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b:1b6f4f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"]}]});
        assert!(check(&v, &good).is_empty(), "{:?}", check(&v, &good));
        let bad = json!({"metrics": ["requests"], "time_range": {"type": "relative", "time_range": "2h"}});
        let problems = check(&v, &bad);
        assert!(
            problems.iter().any(|p| p.field == "metrics.0"),
            "{problems:?}"
        );
    }
}
