//! Secret redaction for anything that leaves the process (logs, errors, results).
//!
//! Upstream error bodies sometimes echo credentials. We replace bearer tokens and the token
//! shapes of the services we talk to (GitHub, Slack, Konnect, Kubernetes JWTs) with `[REDACTED]`.

/// Prefixes of well-known token formats; the rest of the token follows without spaces.
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "kpat_",
    "spat_",
    "sk-",
];

/// Returns `text` with credentials replaced by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut redact_next = false;
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        let tail = &word[trimmed.len()..];
        let lower = trimmed.to_ascii_lowercase();
        if redact_next && !trimmed.is_empty() {
            out.push_str("[REDACTED]");
            out.push_str(tail);
            redact_next = false;
            continue;
        }
        if lower == "bearer" || lower.ends_with("token:") || lower.ends_with("token=") {
            redact_next = true;
            out.push_str(word);
            continue;
        }
        if looks_secret(trimmed) {
            out.push_str("[REDACTED]");
            out.push_str(tail);
        } else {
            out.push_str(word);
        }
    }
    out
}

fn looks_secret(word: &str) -> bool {
    let word = word.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | '.' | ')' | '('));
    if TOKEN_PREFIXES
        .iter()
        .any(|p| word.starts_with(p) && word.len() > p.len() + 6)
    {
        return true;
    }
    // A JWT: three base64url segments, the first a JSON header (`eyJ`).
    word.starts_with("eyJ") && word.matches('.').count() == 2 && word.len() > 30
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_bearer_and_known_token_shapes() {
        assert_eq!(
            redact("Authorization: Bearer s3cr3t"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            redact("bad token ghp_0123456789abcdef"),
            "bad token [REDACTED]"
        );
        assert_eq!(
            redact("slack xoxb-1-2-abcdefgh failed"),
            "slack [REDACTED] failed"
        );
        assert_eq!(redact("token: hunter2 rest"), "token: [REDACTED] rest");
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
        assert_eq!(redact(&format!("jwt {jwt} here")), "jwt [REDACTED] here");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let text = "pod web-1 in namespace prod is CrashLoopBackOff (sk8s ok)";
        assert_eq!(redact(text), text);
    }
}
