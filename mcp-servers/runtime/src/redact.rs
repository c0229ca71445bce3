//! Secret redaction for anything that leaves the process (tool results, errors, logs, and in
//! the host: prompts, audit records, exports, Events, Slack and ApprovalTask messages).
//!
//! Redaction is by pattern over the bytes, not by word: compact JSON (`{"t":"ghp_…"}`), escaped
//! JSON inside JSON (`\"token\":\"…\"`), URLs and log lines are one "word" each, so a token is
//! found wherever it starts. Covered:
//! - token shapes: GitHub (`ghp_ gho_ ghu_ ghs_ ghr_ github_pat_`), Slack (`xoxa- xoxb- xoxo-
//!   xoxp- xoxr- xoxs- xapp-`), Konnect (`kpat_ spat_`), OpenAI-style `sk-`, AWS access key ids
//!   (`AKIA…`, `ASIA…`), JWTs (`eyJ….….…`), PEM private key blocks;
//! - credentials by position: the value after `Bearer`, after an `Authorization:` header (its
//!   scheme kept), URL userinfo (`https://user:pass@host`), and any value under a key named like
//!   a credential (`token`, `password`, `secret`, `apiKey`, `client_secret`, …) in JSON, YAML,
//!   `key=value` and header text;
//! - in JSON values ([`redact_json`]): also the `value` of a `{"name": "DB_PASSWORD", "value": …}`
//!   pair (a pod's env literal), and strings that are JSON themselves (the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation).
//!
//! Every rule leaves `[REDACTED]` alone, so redacting twice changes nothing.

use serde_json::Value;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Prefixes of token formats whose body follows in `[A-Za-z0-9_-]`, and the shortest body.
const TOKEN_PREFIXES: &[(&str, usize)] = &[
    ("github_pat_", 8),
    ("ghp_", 8),
    ("gho_", 8),
    ("ghu_", 8),
    ("ghs_", 8),
    ("ghr_", 8),
    ("xoxa-", 6),
    ("xoxb-", 6),
    ("xoxo-", 6),
    ("xoxp-", 6),
    ("xoxr-", 6),
    ("xoxs-", 6),
    ("xapp-", 6),
    ("kpat_", 8),
    ("spat_", 8),
    // OpenAI-style keys; long enough not to catch `sk-learn`.
    ("sk-", 16),
];

/// Key names (lower-cased, without `_ - .`) whose values are credentials, matched as suffixes:
/// `GITHUB_TOKEN`, `db.password`, `clientSecret`, `x-api-key` all end in one of these.
const CREDENTIAL_KEYS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "credential",
    "credentials",
    "authorization",
    "cookie",
];

/// Whether a key (JSON, YAML, env var, header or query parameter name) names a credential.
pub fn is_credential_key(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    // Names of things that hold credentials are not credentials (`secretName`, `tokenTTL`).
    CREDENTIAL_KEYS.iter().any(|k| norm.ends_with(k))
}

/// Returns `text` with credentials replaced by [`REDACTED`]. Text that is a JSON document is
/// redacted value by value (see [`redact_json`]) and printed back in its own style.
pub fn redact(text: &str) -> String {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut doc) = serde_json::from_str::<Value>(text)
    {
        if !redact_json(&mut doc) {
            return text.to_string();
        }
        let printed = if text.contains('\n') {
            serde_json::to_string_pretty(&doc)
        } else {
            serde_json::to_string(&doc)
        };
        if let Ok(p) = printed {
            return p;
        }
    }
    redact_text(text)
}

/// Redacts every string of `v` in place (keys named like credentials lose their string values);
/// returns whether anything changed.
pub fn redact_json(v: &mut Value) -> bool {
    match v {
        Value::String(s) => {
            let t = s.trim_start();
            let clean = if t.starts_with('{') || t.starts_with('[') {
                redact(s)
            } else {
                redact_text(s)
            };
            let changed = clean != *s;
            if changed {
                *s = clean;
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, i| redact_json(i) | acc),
        Value::Object(map) => {
            let env_secret = map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_credential_key);
            let mut changed = false;
            for (k, val) in map.iter_mut() {
                let secret = is_credential_key(k) || (env_secret && k == "value");
                let set = match &*val {
                    Value::String(s) => !s.is_empty() && s != REDACTED,
                    Value::Number(_) => true,
                    _ => false,
                };
                if secret && set {
                    *val = Value::String(REDACTED.to_string());
                    changed = true;
                    continue;
                }
                changed |= redact_json(val);
            }
            changed
        }
        _ => false,
    }
}

/// The byte ranges of `text` that hold secrets, sorted and merged.
fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    pem_blocks(text, &mut spans);
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = token_at(b, i) {
            spans.push((i, end));
            i = end;
            continue;
        }
        if b.get(i..i + 3) == Some(b"://") {
            if let Some(span) = userinfo(b, i + 3) {
                spans.push(span);
            }
            i += 3;
            continue;
        }
        if is_ident(b[i]) && (i == 0 || !is_ident(b[i - 1])) {
            let end = (i..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
            let word = text.get(i..end).unwrap_or_default();
            if word.eq_ignore_ascii_case("bearer") {
                if let Some(span) = next_word(b, end) {
                    spans.push(span);
                }
            } else if is_credential_key(word)
                && let Some(span) = assigned_value(b, end)
            {
                spans.push(span);
            }
            // Not past the word: a token may start inside it (`repo.ghp_…`).
            i += 1;
            continue;
        }
        i += 1;
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Pattern redaction of plain text (no JSON parsing).
fn redact_text(text: &str) -> String {
    let spans = secret_spans(text);
    if spans.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in spans {
        // Spans start and end on ASCII bytes (or the end), so these are char boundaries.
        out.push_str(text.get(at..s).unwrap_or_default());
        out.push_str(REDACTED);
        at = e;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-')
}

/// Whether position `i` may start a token: not inside a longer word, except after a JSON or
/// shell escape (`\n`, `\t`), which ends a word although its letter is alphanumeric.
fn word_start(b: &[u8], i: usize) -> bool {
    match i.checked_sub(1).and_then(|p| b.get(p)) {
        None => true,
        Some(&c) if !c.is_ascii_alphanumeric() => true,
        Some(_) => i >= 2 && b.get(i - 2) == Some(&b'\\'),
    }
}

/// The end of a token starting at `i`, if one does.
fn token_at(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?;
    let body_end = |from: usize| {
        (from..b.len())
            .find(|&j| !is_token_char(b[j]))
            .unwrap_or(b.len())
    };
    for (prefix, min) in TOKEN_PREFIXES {
        if rest.starts_with(prefix.as_bytes()) {
            let from = i + prefix.len();
            let end = body_end(from);
            if end - from >= *min && (*prefix != "sk-" || word_start(b, i)) {
                return Some(end);
            }
        }
    }
    // AWS access key ids: AKIA/ASIA and 16 upper-case letters or digits.
    if (rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA")) && word_start(b, i) {
        let end = (i..b.len())
            .find(|&j| !(b[j].is_ascii_uppercase() || b[j].is_ascii_digit()))
            .unwrap_or(b.len());
        if end - i == 20 {
            return Some(end);
        }
    }
    // A JWT: three base64url segments, the first a JSON header (`eyJ`).
    if rest.starts_with(b"eyJ") && word_start(b, i) {
        let end = (i..b.len())
            .find(|&j| !(is_token_char(b[j]) || b[j] == b'.'))
            .unwrap_or(b.len());
        let jwt = b.get(i..end)?;
        if jwt.len() > 30 && jwt.iter().filter(|&&c| c == b'.').count() == 2 {
            return Some(end);
        }
    }
    None
}

/// `-----BEGIN … PRIVATE KEY-----` through its END line (or the end of the text when cut).
fn pem_blocks(text: &str, spans: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(off) = text.get(from..).and_then(|t| t.find("-----BEGIN ")) {
        let start = from + off;
        let header_end = text
            .get(start + 11..)
            .and_then(|t| t.find("-----"))
            .map(|e| start + 11 + e);
        let Some(header_end) = header_end else { break };
        let header = text.get(start..header_end).unwrap_or_default();
        if !header.contains("PRIVATE KEY") {
            from = header_end;
            continue;
        }
        let end = text
            .get(header_end + 5..)
            .and_then(|t| t.find("-----END "))
            .and_then(|e| {
                let at = header_end + 5 + e + 9;
                text.get(at..)
                    .and_then(|t| t.find("-----"))
                    .map(|x| at + x + 5)
            })
            .unwrap_or(text.len());
        spans.push((start, end));
        from = end;
    }
}

/// `user:password` of a URL whose authority starts at `i`.
fn userinfo(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let end = (i..b.len()).find(|&j| {
        matches!(
            b[j],
            b'/' | b'?' | b'#' | b'@' | b'"' | b'\'' | b'\\' | b'<' | b'>'
        ) || b[j].is_ascii_whitespace()
    })?;
    (b.get(end) == Some(&b'@') && b.get(i..end)?.contains(&b':')).then_some((i, end))
}

/// The word after `i` (past spaces), unless it is already redacted.
fn next_word(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let start = (i..b.len()).find(|&j| b[j] != b' ' && b[j] != b'\t')?;
    if start == i {
        return None;
    }
    let end = (start..b.len())
        .find(|&j| b[j].is_ascii_whitespace() || matches!(b[j], b'"' | b'\'' | b',' | b';' | b'\\'))
        .unwrap_or(b.len());
    let word = b.get(start..end)?;
    (!word.is_empty() && word != REDACTED.as_bytes()).then_some((start, end))
}

/// The value assigned to a key that ends at `i`: `key: v`, `key=v`, `"key": "v"`,
/// `\"key\":\"v\"`; an `Authorization` scheme word (`Bearer`, `Basic`, …) is kept.
fn assigned_value(b: &[u8], mut i: usize) -> Option<(usize, usize)> {
    // Closing quote of the key, plain or escaped.
    if b.get(i) == Some(&b'\\') && matches!(b.get(i + 1), Some(b'"' | b'\'')) {
        i += 2;
    } else if matches!(b.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if !matches!(b.get(i), Some(b':' | b'=')) {
        return None;
    }
    i += 1;
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if b.get(i..)
        .is_some_and(|r| r.starts_with(REDACTED.as_bytes()))
    {
        return None;
    }
    // Opening quote of the value: its closing twin ends it.
    let (start, close): (usize, &[u8]) = match (b.get(i), b.get(i + 1)) {
        (Some(b'\\'), Some(b'"')) => (i + 2, b"\\\""),
        (Some(b'"'), _) => (i + 1, b"\""),
        (Some(b'\''), _) => (i + 1, b"'"),
        _ => (i, b""),
    };
    let end = if close.is_empty() {
        (start..b.len())
            .find(|&j| {
                b[j].is_ascii_whitespace()
                    || matches!(
                        b[j],
                        b',' | b';' | b'&' | b'}' | b']' | b'"' | b'\'' | b'\\'
                    )
            })
            .unwrap_or(b.len())
    } else {
        let mut j = start;
        loop {
            match b.get(j) {
                None => break b.len(),
                Some(b'\\') if close == b"\"" => j += 2,
                Some(_) if b.get(j..).is_some_and(|r| r.starts_with(close)) => break j,
                Some(_) => j += 1,
            }
        }
        .min(b.len())
    };
    let value = b.get(start..end)?;
    let literal = [&b"null"[..], b"true", b"false"];
    if value.is_empty()
        || value == REDACTED.as_bytes()
        || (close.is_empty() && (literal.contains(&value) || matches!(value[0], b'{' | b'[')))
    {
        return None;
    }
    let scheme = value.len() < 8
        && ["bearer", "basic", "token", "digest", "bot"]
            .iter()
            .any(|s| value.eq_ignore_ascii_case(s.as_bytes()));
    if scheme && close.is_empty() {
        return next_word(b, end);
    }
    if !close.is_empty()
        && let Some(sp) = value.iter().position(|&c| c == b' ')
        && ["bearer", "basic", "token", "digest", "bot"]
            .iter()
            .any(|s| value[..sp].eq_ignore_ascii_case(s.as_bytes()))
    {
        let rest = start + sp + 1;
        return (b.get(rest..end) != Some(REDACTED.as_bytes()) && rest < end)
            .then_some((rest, end));
    }
    Some((start, end))
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
