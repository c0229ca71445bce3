//! Secrets in an encoding: a word that, once decoded (percent-encoding, `\u`/`\x` escapes,
//! base64 in either alphabet, up to two layers), holds a secret is redacted whole. A token
//! copied into a URL query, an escaped JSON log line or a base64 config blob is still the
//! token.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Shortest base64 word worth decoding: the shortest token family (an AWS key id, 20
/// characters) is 28 characters in base64.
const MIN_BASE64: usize = 24;

fn word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'_' | b'-' | b'%' | b'\\' | b'.' | b'=')
}

/// The byte ranges of `text` holding a word whose decoding holds a secret; `depth` more
/// layers of encoding are looked through.
pub(super) fn spans(text: &str, depth: u8) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !word_byte(b[i]) {
            i += 1;
            continue;
        }
        let end = (i..b.len()).find(|&j| !word_byte(b[j])).unwrap_or(b.len());
        // A sentence's full stop, or the backslash of an escaped quote after the word, is
        // not part of it (nor a neighbour that splits off its padding).
        let mut word_end = end;
        while word_end > i && matches!(b[word_end - 1], b'.' | b'\\') {
            word_end -= 1;
        }
        for (s, e) in parts(b, i, word_end) {
            if let Some(word) = text.get(s..e)
                && holds_secret(word, depth)
            {
                out.push((s, e));
            }
        }
        i = end;
    }
    out
}

/// A word split at each `=` that is not base64 padding (`key=value` is two words).
fn parts(b: &[u8], start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut s = start;
    for j in start..end {
        if b[j] == b'=' && j + 1 < end && b[j + 1] != b'=' {
            if j > s {
                out.push((s, j));
            }
            s = j + 1;
        }
    }
    if end > s {
        out.push((s, end));
    }
    out
}

fn holds_secret(word: &str, depth: u8) -> bool {
    pieces(word).iter().any(|piece| {
        decodings(piece)
            .iter()
            .any(|d| d != piece && super::has_secret(d, depth))
    })
}

/// `word` and the pieces an encoded value may be one of: a sentence's full stop trimmed, the
/// segments of a path, the parts between escapes (`\"`, `\n`) of escaped JSON.
fn pieces(word: &str) -> Vec<&str> {
    let mut out = vec![word];
    let trimmed = word.trim_end_matches('.');
    if trimmed != word {
        out.push(trimmed);
    }
    for sep in ['/', '\\'] {
        if trimmed.contains(sep) {
            out.extend(
                trimmed
                    .split(sep)
                    .map(|p| {
                        p.strip_prefix(['n', 't', 'r', '"'])
                            .filter(|_| sep == '\\')
                            .unwrap_or(p)
                    })
                    .filter(|p| p.len() >= MIN_BASE64),
            );
        }
    }
    out
}

/// What `word` may mean once decoded (nothing when it is no encoding).
fn decodings(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    if word.contains('%') {
        out.push(percent(word));
    }
    if word.contains('\\') {
        out.push(escapes(word));
    }
    let plain = word.trim_end_matches('=');
    if plain.len() >= MIN_BASE64
        && plain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'_' | b'-'))
    {
        for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(word) {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
                break;
            }
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `%XX` decoded (invalid sequences kept as they are).
fn percent(word: &str) -> String {
    let b = word.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `\uXXXX` and `\xXX` decoded (anything else kept as it is).
fn escapes(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            let digits = match chars.get(i + 1) {
                Some('u') => 4,
                Some('x') => 2,
                _ => 0,
            };
            let code: Option<String> = chars.get(i + 2..i + 2 + digits).map(|d| d.iter().collect());
            if digits > 0
                && let Some(c) = code
                    .and_then(|d| u32::from_str_radix(&d, 16).ok())
                    .and_then(char::from_u32)
            {
                out.push(c);
                i += 2 + digits;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::redact;

    const TOKEN: &str = "ghp_Adv3rs4r1alT0kenF0rTh3Appr0valFl0w12";

    #[test]
    fn encoded_tokens_are_found() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("x {TOKEN}"));
        let twice = base64::engine::general_purpose::STANDARD.encode(&b64);
        let pct: String = TOKEN.bytes().map(|c| format!("%{c:02X}")).collect();
        let esc: String = TOKEN
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        for (what, text) in [
            ("base64", format!("data: {b64}\n")),
            ("base64url", format!("{{\"blob\":\"{url}\"}}")),
            ("base64 twice", format!("v={twice}")),
            ("percent", format!("GET /x?q={pct}&a=1")),
            ("escapes", format!("log {{\\\"t\\\":\\\"{esc}\\\"}}")),
            ("base64 ending a sentence", format!("The key is {b64}.")),
            (
                "base64url in a path",
                format!("https://x.io/api/v1/auth/{url}"),
            ),
            (
                "base64 in escaped JSON",
                format!("msg=\"{{\\\"blob\\\":\\\"{b64}\\\"}}\""),
            ),
        ] {
            let out = redact(&text);
            assert!(out.contains("[REDACTED]"), "{what}: {out}");
            assert_eq!(redact(&out), out, "{what}: idempotent");
        }
    }

    #[test]
    fn ordinary_encodings_stay() {
        for text in [
            "commit 9f860656af4464da4488b0dd44be26850f8fb31b",
            "GET /search?q=hello%20world",
            "data: aGVsbG8gd29ybGQsIG5vdGhpbmcgdG8gc2VlIGhlcmU=",
            "path C:\\\\Users\\\\x",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
