//! Label and field selectors, parsed the way the API server parses them.

use serde_json::Value;

/// A parse failure; the API server answers these with 400 BadRequest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

/// A conjunction of requirements on labels (or on fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    reqs: Vec<(String, Op)>,
}

impl Selector {
    /// Parses a label selector: `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
    pub fn labels(text: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for part in split_top(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part, true)?);
        }
        Ok(Self { reqs })
    }

    /// Parses a field selector: only `=`, `==` and `!=`.
    pub fn fields(text: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, op) = parse_requirement(part, false)?;
            if !matches!(op, Op::Eq(_) | Op::NotEq(_)) {
                return Err(SelectorError(format!(
                    "{part}: field selectors support only =, == and !="
                )));
            }
            reqs.push((key, op));
        }
        Ok(Self { reqs })
    }

    /// Whether `lookup(key)` satisfies every requirement.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.reqs.iter().all(|(key, op)| {
            let value = lookup(key);
            match op {
                Op::Eq(v) => value.as_deref() == Some(v.as_str()),
                Op::NotEq(v) => value.as_deref() != Some(v.as_str()),
                Op::In(vs) => value.is_some_and(|x| vs.contains(&x)),
                Op::NotIn(vs) => !value.is_some_and(|x| vs.contains(&x)),
                Op::Exists => value.is_some(),
                Op::NotExists => value.is_none(),
            }
        })
    }

    /// Matches an object's labels.
    pub fn matches_labels(&self, obj: &Value) -> bool {
        self.matches(|k| obj["metadata"]["labels"][k].as_str().map(str::to_string))
    }

    /// Matches an object's fields (dotted paths such as `status.phase`).
    pub fn matches_fields(&self, obj: &Value) -> bool {
        self.matches(|k| {
            let mut cur = obj;
            for seg in k.split('.') {
                cur = &cur[seg];
            }
            match cur {
                Value::String(s) => Some(s.clone()),
                Value::Null => Some(String::new()),
                other => Some(other.to_string()),
            }
        })
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 316
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_requirement(part: &str, labels: bool) -> Result<(String, Op), SelectorError> {
    let err = || SelectorError(part.to_string());
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        return if labels && valid_key(key) {
            Ok((key.to_string(), Op::NotExists))
        } else {
            Err(err())
        };
    }
    for (token, neg) in [(" notin ", true), (" in ", false)] {
        if let Some(idx) = part.find(token) {
            let key = part[..idx].trim();
            let rest = part[idx + token.len()..].trim();
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(err)?;
            let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
            if !labels || !valid_key(key) || values.iter().any(|v| !valid_value(v)) {
                return Err(err());
            }
            return Ok((
                key.to_string(),
                if neg {
                    Op::NotIn(values)
                } else {
                    Op::In(values)
                },
            ));
        }
    }
    let (key, op) = if let Some((k, v)) = part.split_once("!=") {
        (k, Op::NotEq(v.trim().to_string()))
    } else if let Some((k, v)) = part.split_once("==") {
        (k, Op::Eq(v.trim().to_string()))
    } else if let Some((k, v)) = part.split_once('=') {
        (k, Op::Eq(v.trim().to_string()))
    } else if labels {
        (part, Op::Exists)
    } else {
        return Err(err());
    };
    let key = key.trim();
    let value_ok = match &op {
        Op::Eq(v) | Op::NotEq(v) => !labels || valid_value(v),
        _ => true,
    };
    if !valid_key(key) || !value_ok || key.contains(' ') {
        return Err(err());
    }
    Ok((key.to_string(), op))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_follow_kubernetes_semantics() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (web, api)", true),
            ("tier notin (front)", false),
            ("app", true),
            ("!missing", true),
            ("!app", false),
            ("missing notin (x)", true),
        ] {
            assert_eq!(
                Selector::labels(sel).unwrap().matches_labels(&obj),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn invalid_selectors_are_errors() {
        for bad in ["app in web", "a b=c", "app=(x", "=x"] {
            assert!(Selector::labels(bad).is_err(), "{bad}");
        }
        assert!(Selector::fields("status.phase in (Running)").is_err());
    }

    #[test]
    fn field_selectors_read_dotted_paths() {
        let obj = json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}});
        assert!(
            Selector::fields("status.phase=Running,metadata.name=p")
                .unwrap()
                .matches_fields(&obj)
        );
        assert!(
            !Selector::fields("status.phase!=Running")
                .unwrap()
                .matches_fields(&obj)
        );
    }
}
