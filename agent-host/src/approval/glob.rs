//! Path globs for policy rules: `*` (within a segment), `**` (any segments), `?` (one char).

/// Whether `path` matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    segments(&p, &s)
}

fn segments(p: &[&str], s: &[&str]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(&"**"), _) => segments(&p[1..], s) || (!s.is_empty() && segments(p, &s[1..])),
        (Some(pp), Some(ss)) => segment(pp.as_bytes(), ss.as_bytes()) && segments(&p[1..], &s[1..]),
        _ => false,
    }
}

fn segment(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => segment(&p[1..], s) || (!s.is_empty() && segment(p, &s[1..])),
        (Some(b'?'), Some(_)) => segment(&p[1..], &s[1..]),
        (Some(a), Some(b)) => a == b && segment(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs_match_like_gitignore_paths() {
        assert!(matches("**/secrets/**", "deploy/secrets/db.yaml"));
        assert!(matches("**/*.pem", "certs/ca.pem") && matches("**/*.pem", "ca.pem"));
        assert!(matches(
            ".github/workflows/*",
            ".github/workflows/deploy.yml"
        ));
        assert!(!matches(
            ".github/workflows/*",
            ".github/workflows/sub/x.yml"
        ));
        assert!(matches("Dockerfile", "Dockerfile") && !matches("Dockerfile", "src/Dockerfile"));
        assert!(matches("src/?.rs", "src/a.rs") && !matches("src/?.rs", "src/ab.rs"));
    }
}
