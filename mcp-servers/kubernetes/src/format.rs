//! Pure helpers that make Kubernetes objects compact and safe to show a model.

use serde_json::{Map, Value, json};

/// Human age of an RFC 3339 timestamp relative to `now` (`5m`, `3h`, `2d`), `-` if unknown.
pub fn age(timestamp: Option<&str>, now: jiff::Timestamp) -> String {
    let Some(t) = timestamp.and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return "-".into();
    };
    let secs = now.as_second().saturating_sub(t.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Removes what is noise or a leak risk: `managedFields`, and the last-applied annotation (it
/// can hold a Secret's data in clear).
pub fn strip_noise(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
            if ann.is_empty() {
                meta.remove("annotations");
            }
        }
    }
}

/// Replaces the values of every core Secret in `obj` (the object itself, or one inside a
/// `List` or any other object that embeds one) with their sizes: keys are useful, values never
/// leave.
pub fn mask_secrets(obj: &mut Value) {
    match obj {
        Value::Object(map) => {
            let secret = map.get("kind").and_then(Value::as_str) == Some("Secret")
                && map.get("apiVersion").and_then(Value::as_str) == Some("v1");
            for (key, value) in map.iter_mut() {
                if secret && (key == "data" || key == "stringData") {
                    if let Some(entries) = value.as_object_mut() {
                        for v in entries.values_mut() {
                            let len = v.as_str().map(str::len).unwrap_or(0);
                            *v = json!(format!("<redacted, {len} bytes encoded>"));
                        }
                    } else {
                        *value = json!("<redacted>");
                    }
                } else {
                    mask_secrets(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// Keeps only the dotted `paths` of `obj` (e.g. `status.phase`, `spec.containers`), plus
/// `metadata.name` and `metadata.namespace`. Unknown paths are reported as `null`.
pub fn project(obj: &Value, paths: &[String]) -> Value {
    let mut out = Map::new();
    for path in ["metadata.name", "metadata.namespace"]
        .iter()
        .copied()
        .chain(paths.iter().map(String::as_str))
    {
        let mut cur = obj;
        for seg in path.split('.') {
            cur = &cur[seg];
        }
        out.insert(path.to_string(), cur.clone());
    }
    Value::Object(out)
}

/// A one-word status for list rows: `status.phase`, the Ready/Available/Succeeded condition,
/// or ApprovalTask `status.state`.
pub fn short_status(obj: &Value) -> String {
    let status = &obj["status"];
    if let Some(phase) = status["phase"].as_str() {
        return phase.to_string();
    }
    if let Some(state) = status["state"].as_str() {
        return state.to_string();
    }
    let conditions = status["conditions"].as_array();
    for wanted in ["Succeeded", "Ready", "Available"] {
        if let Some(c) = conditions.and_then(|cs| cs.iter().find(|c| c["type"] == wanted)) {
            let s = c["status"].as_str().unwrap_or("?");
            let reason = c["reason"].as_str().unwrap_or("");
            return format!(
                "{wanted}={s}{}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("({reason})")
                }
            );
        }
    }
    String::new()
}

/// Splits an image reference into `(repository, tag, digest)`.
pub fn split_image(image: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    // A tag is after the last ':' that follows the last '/' (a registry port is not a tag).
    let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    match rest[slash..].rfind(':') {
        Some(i) => (
            rest[..slash + i].to_string(),
            Some(rest[slash + i + 1..].to_string()),
            digest,
        ),
        None => (rest.to_string(), None, digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_keep_keys_and_lose_values() {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": "c2VjcmV0"}, "metadata": {"annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"c2VjcmV0\"}}"}}});
        mask_secrets(&mut s);
        strip_noise(&mut s);
        let text = s.to_string();
        assert!(!text.contains("c2VjcmV0"), "{text}");
        assert!(text.contains("password"));
        let mut list = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Secret", "stringData": {"token": "hunter2"}, "data": "c2VjcmV0"},
            {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "visible"}},
        ]});
        mask_secrets(&mut list);
        let text = list.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("c2VjcmV0"),
            "{text}"
        );
        assert!(text.contains("visible"), "{text}");
    }

    #[test]
    fn images_split_into_tag_and_digest() {
        assert_eq!(
            split_image("r.io:5000/a/b:1.2"),
            ("r.io:5000/a/b".into(), Some("1.2".into()), None)
        );
        assert_eq!(
            split_image("r.io:5000/a/b"),
            ("r.io:5000/a/b".into(), None, None)
        );
        assert_eq!(
            split_image("a/b:latest@sha256:ab"),
            (
                "a/b".into(),
                Some("latest".into()),
                Some("sha256:ab".into())
            )
        );
    }

    #[test]
    fn ages_and_projection() {
        let now: jiff::Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        assert_eq!(age(Some("2026-01-01T23:59:00Z"), now), "60s");
        assert_eq!(age(Some("2026-01-01T00:00:00Z"), now), "24h");
        assert_eq!(age(None, now), "-");
        let obj =
            json!({"metadata": {"name": "p", "namespace": "n"}, "status": {"phase": "Running"}});
        assert_eq!(
            project(&obj, &["status.phase".into()]),
            json!({"metadata.name": "p", "metadata.namespace": "n", "status.phase": "Running"})
        );
    }
}
