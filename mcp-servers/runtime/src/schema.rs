//! Tool input schemas trimmed to what a model needs.
//!
//! Schemas are sent with every model call, so bytes that carry no meaning are dropped: the
//! `$schema` URI (2020-12 is MCP's default), schemars' type-name `title`, Rust-only `format`s
//! (`uint8`, `int64`, ...) and `default`s that merely restate "empty" (`""`, `false`, `[]`,
//! `null`). Types, descriptions, bounds, enums and `required` stay untouched.

use serde_json::{Map, Value};

const RUST_FORMATS: &[&str] = &[
    "uint", "uint8", "uint16", "uint32", "uint64", "int", "int8", "int16", "int32", "int64",
    "float", "double", "uint128", "int128",
];

fn is_empty_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The schema without the meaningless parts, recursively.
pub fn compact(schema: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in schema {
        match (k.as_str(), v) {
            ("$schema", _) | ("title", Value::String(_)) => continue,
            ("format", Value::String(f)) if RUST_FORMATS.contains(&f.as_str()) => continue,
            ("default", d) if is_empty_default(d) => continue,
            ("properties" | "$defs" | "definitions", Value::Object(props)) => {
                let inner = props
                    .iter()
                    .map(|(name, p)| match p {
                        Value::Object(o) => (name.clone(), Value::Object(compact(o))),
                        other => (name.clone(), other.clone()),
                    })
                    .collect();
                out.insert(k.clone(), Value::Object(inner));
            }
            (_, Value::Object(o)) => {
                out.insert(k.clone(), Value::Object(compact(o)));
            }
            (_, Value::Array(items)) => {
                let inner = items
                    .iter()
                    .map(|i| match i {
                        Value::Object(o) => Value::Object(compact(o)),
                        other => other.clone(),
                    })
                    .collect();
                out.insert(k.clone(), Value::Array(inner));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn noise_goes_meaning_stays() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Args", "type": "object",
            "properties": {
                "repo": {"type": "string", "default": "", "description": "owner/name"},
                "limit": {"type": ["integer", "null"], "format": "uint8", "minimum": 0, "maximum": 255},
                "title": {"type": "string", "default": "x"},
                "state": {"enum": ["open", "closed"], "default": false}
            },
            "required": ["title"]
        });
        let out = Value::Object(compact(schema.as_object().unwrap()));
        assert_eq!(
            out,
            json!({"type": "object", "properties": {
                "repo": {"type": "string", "description": "owner/name"},
                "limit": {"type": ["integer", "null"], "minimum": 0, "maximum": 255},
                "title": {"type": "string", "default": "x"},
                "state": {"enum": ["open", "closed"]}
            }, "required": ["title"]})
        );
    }
}
