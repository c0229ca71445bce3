//! Secret redaction for anything that leaves the process (tool results, errors, logs, and in
//! the host: prompts, audit records, exports, Events, Slack and ApprovalTask messages).
//!
//! Redaction is by pattern over the bytes, not by word: compact JSON (`{"t":"ghp_…"}`), escaped
//! JSON inside JSON (`\"token\":\"…\"`), URLs and log lines are one "word" each, so a token is
//! found wherever a word starts. Covered:
//! - token shapes: GitHub (`ghp_ gho_ ghu_ ghs_ ghr_ github_pat_`), Slack (`xoxa- xoxb- xoxe-
//!   xoxo- xoxp- xoxr- xoxs- xapp-`, webhook URLs), Konnect (`kpat_ spat_`), OpenAI-style `sk-`,
//!   AWS access key ids (`AKIA…`, `ASIA…`), JWTs (`eyJ….….…`), PEM private key blocks;
//! - credentials by position: the value after `Bearer`, after an `Authorization:` header (its
//!   scheme kept), URL userinfo (`https://user:pass@host`), and any value under a key named like
//!   a credential (`token`, `password`, `secret`, `apiKey`, `client_secret`, …) in JSON, YAML,
//!   `key=value`, `key := v`, `key => v`, `--key v`, `<key>v</key>` and header text;
//! - in JSON values ([`redact_json`]): the whole value under such a key (lists and objects
//!   too), the `value` of a `{"name": "DB_PASSWORD", "value": …}` pair (a pod's env literal),
//!   and strings that are JSON themselves (the last-applied-configuration annotation).
//!
//! - the same in an encoding (percent-encoding, `\u`/`\x` escapes, base64 in either alphabet,
//!   two layers deep): the encoded word goes whole.
//!
//! Work is linear in the input (every scan moves forward), a span never crosses a line but a
//! PEM block's, and redacting twice changes nothing.

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
    ("xoxc-", 6),
    ("xoxd-", 6),
    ("xoxb-", 6),
    ("xoxe-", 6),
    ("xoxo-", 6),
    ("xoxp-", 6),
    ("xoxr-", 6),
    ("xoxs-", 6),
    ("xapp-", 6),
    ("kpat_", 8),
    ("spat_", 8),
    // Stripe secret and restricted keys, Google API keys.
    ("sk_live_", 16),
    ("sk_test_", 16),
    ("rk_live_", 16),
    ("AIza", 30),
];

/// Key names (lower-cased, without `_ - .`) whose values are credentials, matched as suffixes:
/// `GITHUB_TOKEN`, `db.password`, `clientSecret`, `x-api-key`, `tls.key` end in one of these.
const CREDENTIAL_KEYS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "apikey",
    "apikeys",
    "accesskey",
    "secretkey",
    "privatekey",
    "clientkey",
    "signingkey",
    "encryptionkey",
    "tlskey",
    "sshkey",
    "authorization",
    "cookie",
    "dockerconfigjson",
    "dockercfg",
    "dbpass",
    "dbpwd",
    "secretkeybase",
];

/// Key names that are credentials only when they are the whole name (a Docker config's
/// `auth`, `pass`, an Azure SAS `sig`).
const EXACT_CREDENTIAL_KEYS: &[&str] = &["auth", "pass", "sig"];

/// Key names that hold credentials in JSON (`"credentials": {...}`) but are common prose in
/// messages (`Invalid credentials: check the token`), so text is not redacted after them.
const JSON_CREDENTIAL_KEYS: &[&str] = &["credential", "credentials"];

/// Names that end like a credential but hold none: pagination cursors and token counts.
const NOT_CREDENTIALS: &[&str] = &[
    "pagetoken",
    "nexttoken",
    "continuetoken",
    "cursortoken",
    "maxtoken",
    "mintoken",
];

/// Whether a key (JSON, YAML, env var, header or query parameter name) names a credential.
pub fn is_credential_key(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    // Names of things that hold credentials are not credentials (`secretName`, `tokenTTL`).
    EXACT_CREDENTIAL_KEYS.contains(&norm.as_str())
        || (CREDENTIAL_KEYS.iter().any(|k| norm.ends_with(k))
            && !NOT_CREDENTIALS.iter().any(|k| norm.ends_with(k)))
}

/// Returns `text` with credentials replaced by [`REDACTED`]. Text that is a JSON document is
/// redacted value by value (see [`redact_json`]) and printed back in its own style.
pub fn redact(text: &str) -> String {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut doc) = serde_json::from_str::<Value>(text)
    {
        if !redact_json(&mut doc) {
            // Nothing under a credential key, as parsed; the text is still scanned by
            // pattern (a duplicate key the parser dropped, a token used as a key).
            return redact_text(text);
        }
        let printed = if text.contains('\n') {
            serde_json::to_string_pretty(&doc)
        } else {
            serde_json::to_string(&doc)
        };
        if let Ok(p) = printed {
            return redact_text(&p);
        }
    }
    redact_text(text)
}

/// Redacts every string of `v` in place (keys named like credentials lose their values);
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
            let field = |names: [&str; 2]| {
                map.iter()
                    .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                    .and_then(|(_, v)| v.as_str())
            };
            let env_secret = field(["name", "key"]).is_some_and(is_credential_key);
            let mut changed = false;
            for (k, val) in map.iter_mut() {
                let secret = is_credential_key(k)
                    || JSON_CREDENTIAL_KEYS
                        .iter()
                        .any(|c| k.eq_ignore_ascii_case(c))
                    || (env_secret && k.eq_ignore_ascii_case("value"));
                let set = match &*val {
                    Value::String(s) => !s.is_empty() && s != REDACTED,
                    Value::Number(_) | Value::Array(_) | Value::Object(_) => true,
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

/// Pattern redaction of plain text (no JSON parsing), to a fixed point: a replacement can
/// change where a word starts, so a second pass may find what the first could not.
fn redact_text(text: &str) -> String {
    let mut cur = once(text);
    for _ in 0..3 {
        let next = once(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

fn once(text: &str) -> String {
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

/// The byte ranges of `text` that hold secrets, sorted and merged: two layers of encoding
/// are looked through.
fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    spans_at(text, 2)
}

/// Whether `text` holds a secret, looking through `depth` layers of encoding.
fn has_secret(text: &str, depth: u8) -> bool {
    !spans_at(text, depth).is_empty()
}

fn spans_at(text: &str, depth: u8) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    pem_blocks(text, &mut spans);
    if let Some(inner) = depth.checked_sub(1) {
        spans.extend(encoded::spans(text, inner));
    }
    let mut i = 0;
    // Positions before this were part of a dotted run that is no JWT: not scanned again.
    let mut no_jwt_before = 0;
    // Likewise for `sk-` runs: a shorter run inside a rejected one is rejected too.
    let mut no_sk_before = 0;
    // The next line break at or after the last position asked (found once per line).
    let mut nl = 0;
    while i < b.len() {
        if word_start(b, i)
            && let Some(end) = token_at(b, i, &mut no_jwt_before, &mut no_sk_before)
        {
            spans.push((i, end));
            i = end;
            continue;
        }
        if b.get(i..i + 3) == Some(b"://") {
            if let Some(span) = userinfo(b, i + 3).or_else(|| webhook(b, i + 3)) {
                spans.push(span);
                i = span.1;
                continue;
            }
            i += 3;
            continue;
        }
        if is_ident(b[i]) && (i == 0 || !is_ident(b[i - 1])) {
            let end = (i..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
            let word = text.get(i..end).unwrap_or_default();
            let span = if word.eq_ignore_ascii_case("bearer") {
                next_word(b, end, 8)
            } else if is_credential_key(word) || (is_value_key(word) && names_credential(text, i)) {
                let flag = word.starts_with("--");
                let tag = i >= 1 && b.get(i - 1) == Some(&b'<') && b.get(end) == Some(&b'>');
                if flag && b.get(end) == Some(&b' ') {
                    next_word(b, end, 1)
                } else {
                    if nl <= i {
                        nl = (i..b.len()).find(|&j| b[j] == b'\n').unwrap_or(b.len());
                    }
                    if tag {
                        element_value(b, end + 1, nl)
                    } else {
                        assigned_value(b, end, word, nl)
                    }
                }
            } else {
                None
            };
            if let Some(span) = span {
                spans.push(span);
                // Past the value: nothing in it is scanned twice (linear time).
                i = span.1.max(i + 1);
                continue;
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

/// The end of a token starting at word start `i`, if one does.
fn token_at(
    b: &[u8],
    i: usize,
    no_jwt_before: &mut usize,
    no_sk_before: &mut usize,
) -> Option<usize> {
    let rest = b.get(i..)?;
    let run_end = |from: usize| {
        (from..b.len())
            .find(|&j| !is_token_char(b[j]))
            .unwrap_or(b.len())
    };
    for (prefix, min) in TOKEN_PREFIXES {
        if rest.starts_with(prefix.as_bytes()) {
            let from = i + prefix.len();
            let end = run_end(from);
            return (end - from >= *min).then_some(end);
        }
    }
    // OpenAI-style keys: long, mixed case with digits (`sk-prod-cluster-1` is a name).
    if rest.starts_with(b"sk-") && i >= *no_sk_before {
        let end = run_end(i + 3);
        let body = b.get(i + 3..end)?;
        let mixed = body.iter().any(u8::is_ascii_uppercase) && body.iter().any(u8::is_ascii_digit);
        if body.len() >= 20 && mixed {
            return Some(end);
        }
        // Every `sk-` later in this run has a body that is a suffix of this one: no longer,
        // no more mixed. Not scanned again (linear time on `sk-sk-sk-…`).
        *no_sk_before = end;
        return None;
    }
    // AWS access key ids: AKIA/ASIA and 16 upper-case letters or digits.
    if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") {
        let end = (i..b.len())
            .find(|&j| !(b[j].is_ascii_uppercase() || b[j].is_ascii_digit()))
            .unwrap_or(b.len());
        return (end - i == 20).then_some(end);
    }
    // A JWT (or a JWE): base64url segments, the first a JSON header (`eyJ`).
    if rest.starts_with(b"eyJ") && i >= *no_jwt_before {
        let end = (i..b.len())
            .find(|&j| !(is_token_char(b[j]) || b[j] == b'.'))
            .unwrap_or(b.len());
        // Dots that end a sentence (`….sig.` or `…`) are not part of it.
        let mut end = end;
        while end > i && b[end - 1] == b'.' {
            end -= 1;
        }
        let jwt = b.get(i..end)?;
        let dots = jwt.iter().filter(|&&c| c == b'.').count();
        if jwt.len() > 30 && (dots == 2 || dots == 4) {
            return Some(end);
        }
        *no_jwt_before = end;
    }
    None
}

/// `-----BEGIN … PRIVATE KEY-----` through its END line, or, cut before it, through the last
/// line that still reads as the key's base64 (never past where the text goes on).
fn pem_blocks(text: &str, spans: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    // The next `-----END ` at or after some position, found once and reused until passed
    // (one search per END, not per header: linear on a run of headers with no END).
    let mut next_end: Option<(usize, Option<usize>)> = None;
    while let Some(off) = text.get(from..).and_then(|t| t.find("-----BEGIN ")) {
        let start = from + off;
        let header_end = text
            .get(start + 11..)
            .and_then(|t| t.find("-----"))
            .map(|e| start + 11 + e);
        let Some(header_end) = header_end else { break };
        let header = text.get(start..header_end).unwrap_or_default();
        if !header.contains("PRIVATE KEY") || header.contains('\n') {
            from = header_end;
            continue;
        }
        let body = header_end + 5;
        let found = match next_end {
            Some((searched_from, hit))
                if searched_from <= body && hit.is_none_or(|h| h >= body) =>
            {
                hit
            }
            _ => {
                let hit = text
                    .get(body..)
                    .and_then(|t| t.find("-----END "))
                    .map(|e| body + e);
                next_end = Some((body, hit));
                hit
            }
        };
        let end = match found {
            Some(e) => {
                let at = e + 9;
                text.get(at..)
                    .and_then(|t| t.find("-----"))
                    .map_or(text.len(), |x| at + x + 5)
            }
            None => base64_lines_end(text, body),
        };
        spans.push((start, end));
        from = end.max(body);
    }
}

/// Where the base64 lines of a cut PEM body end (literal or `\n`-escaped line breaks).
fn base64_lines_end(text: &str, from: usize) -> usize {
    let b = text.as_bytes();
    let mut end = from;
    for (j, &c) in b.iter().enumerate().skip(from) {
        let ok = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'+' | b'/' | b'=' | b'\n' | b'\r' | b':' | b',' | b'-' | b' '
            )
            || (c == b'\\' && b.get(j + 1) == Some(&b'n'));
        if !ok {
            break;
        }
        end = j + 1;
    }
    end
}

/// `user:password` (or a bare token) of a URL whose authority starts at `i`.
fn userinfo(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let end = (i..b.len())
        .find(|&j| {
            matches!(
                b[j],
                b'/' | b'?' | b'#' | b'"' | b'\'' | b'\\' | b'<' | b'>'
            ) || b[j].is_ascii_whitespace()
        })
        .unwrap_or(b.len());
    let at = (i..end).rev().find(|&j| b[j] == b'@')?;
    let info = b.get(i..at)?;
    let secret = info.contains(&b':') || info.len() >= 20;
    (secret && info != REDACTED.as_bytes()).then_some((i, at))
}

/// The secret path of a Slack incoming-webhook URL.
fn webhook(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let host = b"hooks.slack.com/services/";
    let from = i + host.len();
    if b.get(i..from) != Some(host) {
        return None;
    }
    let end = (from..b.len())
        .find(|&j| !(is_token_char(b[j]) || b[j] == b'/'))
        .unwrap_or(b.len());
    (end > from).then_some((from, end))
}

/// The word after `i` (past spaces and tabs), at least `min` bytes, unless already redacted.
fn next_word(b: &[u8], i: usize, min: usize) -> Option<(usize, usize)> {
    let start = (i..b.len()).find(|&j| b[j] != b' ' && b[j] != b'\t')?;
    if start == i && b.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    if b.get(start..)
        .is_some_and(|r| r.starts_with(REDACTED.as_bytes()))
    {
        return None;
    }
    let end = (start..b.len())
        .find(|&j| b[j].is_ascii_whitespace() || matches!(b[j], b'"' | b'\'' | b',' | b';' | b'\\'))
        .unwrap_or(b.len());
    (end - start >= min.max(1)).then_some((start, end))
}

/// The text of `<key>value</key>` from `i` to the next `<` on the line.
fn element_value(b: &[u8], i: usize, line_end: usize) -> Option<(usize, usize)> {
    let end = (i..line_end).find(|&j| b[j] == b'<').unwrap_or(line_end);
    let v = b.get(i..end)?;
    (!v.is_empty() && v != REDACTED.as_bytes()).then_some((i, end))
}

/// The value assigned to key `word` that ends at `i`: `key: v`, `key=v`, `key := v`,
/// `key => v`, `"key": "v"`, `\"key\":\"v\"`; an `Authorization` scheme word (`Bearer`,
/// `Basic`, …) is kept. After `:` a plain value runs to the end of the line (YAML and headers:
/// `password: my secret phrase`); after `=` to the next space or separator.
fn assigned_value(b: &[u8], mut i: usize, word: &str, line_end: usize) -> Option<(usize, usize)> {
    // Closing quote of the key, plain or escaped.
    if b.get(i) == Some(&b'\\') && matches!(b.get(i + 1), Some(b'"' | b'\'')) {
        i += 2;
    } else if matches!(b.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let colon = match (b.get(i), b.get(i + 1)) {
        (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) => {
            i += 2;
            false
        }
        (Some(b':'), _) => {
            i += 1;
            true
        }
        (Some(b'='), _) => {
            i += 1;
            false
        }
        _ => return None,
    };
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if b.get(i..)
        .is_some_and(|r| r.starts_with(REDACTED.as_bytes()))
    {
        return None;
    }
    if i > line_end {
        return None;
    }
    // A quoted value ends at its closing quote on the same line; unclosed, it is read plain.
    let quoted = match (b.get(i), b.get(i + 1)) {
        (Some(b'\\'), Some(q @ (b'"' | b'\''))) => Some((i + 2, vec![b'\\', *q])),
        (Some(q @ (b'"' | b'\'')), _) => Some((i + 1, vec![*q])),
        _ => None,
    };
    if let Some((start, close)) = quoted.as_ref().map(|(s, c)| (*s, c.as_slice()))
        && let Some(end) = closing(b, start, line_end, close)
    {
        let value = b.get(start..end)?;
        if value.is_empty() || value == REDACTED.as_bytes() {
            return None;
        }
        if let Some(sp) = value.iter().position(|&c| c == b' ')
            && is_scheme(value.get(..sp)?)
        {
            let rest = start + sp + 1;
            return (rest < end && b.get(rest..end) != Some(REDACTED.as_bytes()))
                .then_some((rest, end));
        }
        return Some((start, end));
    }
    let start = match quoted {
        Some((s, _)) => s,
        None => i,
    };
    if b.get(start..)
        .is_some_and(|r| r.starts_with(REDACTED.as_bytes()))
    {
        return None;
    }
    let cookie = word.to_ascii_lowercase().ends_with("cookie");
    let end = (start..line_end)
        .find(|&j| {
            let c = b[j];
            matches!(c, b'"' | b'\'' | b'\\' | b'\r')
                || (!cookie && matches!(c, b',' | b'}' | b']'))
                || (!cookie && !colon && (c.is_ascii_whitespace() || matches!(c, b'&' | b';')))
        })
        .unwrap_or(line_end);
    let value = b.get(start..end)?;
    let value = value.strip_suffix(b" ").unwrap_or(value);
    let end = start + value.len();
    let literal = [&b"null"[..], b"true", b"false"];
    if value.is_empty() || value == REDACTED.as_bytes() || literal.contains(&value) {
        return None;
    }
    // A YAML block scalar (`password: |`): the indented lines after it are the value.
    if colon && matches!(value, b"|" | b"|-" | b"|+" | b">" | b">-" | b">+") {
        let mut end = line_end;
        while b.get(end) == Some(&b'\n') && matches!(b.get(end + 1), Some(b' ' | b'\t')) {
            end = (end + 1..b.len())
                .find(|&j| b[j] == b'\n')
                .unwrap_or(b.len());
        }
        return (end > line_end).then_some((line_end + 1, end));
    }
    if is_scheme(value.split(|&c| c == b' ').next().unwrap_or_default()) {
        let after = start + value.iter().position(|&c| c == b' ').unwrap_or(value.len());
        return next_word(b, after, 1);
    }
    Some((start, end))
}

/// `value` (any case): the value half of a name/value pair.
fn is_value_key(word: &str) -> bool {
    word.eq_ignore_ascii_case("value")
}

/// Whether a `name:`/`key:` shortly before `at` (this line or the one above, as in a pod's env
/// list in YAML or JSON) names a credential: then the `value` at `at` is one.
fn names_credential(text: &str, at: usize) -> bool {
    let mut lo = at.saturating_sub(200);
    while lo > 0 && !text.is_char_boundary(lo) {
        lo -= 1;
    }
    let window = text.get(lo..at).unwrap_or_default().to_ascii_lowercase();
    let Some(pos) = window.rfind("name").or_else(|| window.rfind("key")) else {
        return false;
    };
    let after = window.get(pos..).unwrap_or_default();
    let after = after
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .trim_start_matches(['"', '\'', '\\', ' ', ':', '=']);
    let name: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    // At most one line break between the name and the value.
    window
        .get(pos..)
        .is_some_and(|w| w.matches('\n').count() <= 1)
        && is_credential_key(&name)
}

/// `Bearer`, `Basic`, `token`, … : the scheme word of an `Authorization` value.
fn is_scheme(word: &[u8]) -> bool {
    ["bearer", "basic", "token", "digest", "bot"]
        .iter()
        .any(|s| word.eq_ignore_ascii_case(s.as_bytes()))
}

/// The closing `close` of a quoted value from `start`, before `line_end` (escapes skipped).
fn closing(b: &[u8], start: usize, line_end: usize, close: &[u8]) -> Option<usize> {
    let mut j = start;
    while j < line_end {
        if b.get(j..).is_some_and(|r| r.starts_with(close)) {
            return Some(j);
        }
        j += if b[j] == b'\\' && close.len() == 1 {
            2
        } else {
            1
        };
    }
    None
}

#[path = "redact_encoded.rs"]
mod encoded;

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
