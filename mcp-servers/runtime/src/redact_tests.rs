use super::*;
use proptest::prelude::*;
use serde_json::json;

/// Real-looking credentials of every family the redactor covers (none is a live secret).
pub(crate) const TOKENS: &[&str] = &[
    "ghp_R2d2C3poL8k1ngB34rTh1sIsF4k3Ab12cd",
    "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghr_1B4a2e77838347a7E420ce178F2E7c6912E1",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP",
    "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
    "xoxp-2048-4096-8192-0123456789abcdef0123",
    "xoxa-2-2048-4096-0123456789abcdef",
    "xoxo-2048-0123456789abcdef",
    "xoxr-2048-0123456789abcdef",
    "xoxs-2048-0123456789abcdef",
    "xapp-1-A0123456789-0123456789-abcdef0123456789",
    "kpat_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9876543210",
    "spat_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9876543210",
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAY34FZKBOKMUTVV7A",
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlc2lnbmF0dXJl",
];

fn assert_clean(out: &str, secret: &str) {
    assert!(!out.contains(secret), "{secret} survived in {out}");
}

#[test]
fn every_token_family_is_redacted_wherever_it_starts() {
    for t in TOKENS {
        for text in [
            format!("bad token {t}"),
            format!("{{\"data\":{{\"gh\":\"{t}\"}}}}"),
            format!("{{\"a\":\"{{\\\"b\\\":\\\"{t}\\\"}}\"}}"),
            format!("line one\\n{t}\\nline two"),
            format!("https://api.example.com/x?token={t}&page=2"),
            format!("x={t},y"),
            format!("({t})"),
            format!("repo.{t}"),
        ] {
            let out = redact(&text);
            assert_clean(&out, t);
            assert!(out.contains(REDACTED), "{out}");
        }
    }
}

#[test]
fn credentials_by_position() {
    let cases = [
        ("Authorization: Bearer s3cr3t", "s3cr3t"),
        ("authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("AUTHORIZATION=token abc123def", "abc123def"),
        ("curl -H \"Authorization: Bearer s3cr3t\" x", "s3cr3t"),
        ("token: hunter2 rest", "hunter2"),
        ("password=hunter2&user=bob", "hunter2"),
        ("DB_PASSWORD: hunter2", "hunter2"),
        ("{\"clientSecret\":\"hunter2\"}", "hunter2"),
        ("{\"api_key\": \"hunter2\"}", "hunter2"),
        ("x-api-key: hunter2", "hunter2"),
        ("{\"a\":\"{\\\"password\\\":\\\"hunter2\\\"}\"}", "hunter2"),
        ("postgres://app:hunter2@db:5432/app", "hunter2"),
        (
            "clone https://x-access-token:hunter2@github.com/acme/shop",
            "hunter2",
        ),
        ("{\"password\": 12345678}", "12345678"),
        // Found by attacking the first version.
        ("password: my secret phrase", "secret phrase"),
        (
            "password: |\n  hunter2-line\n  more-line\nnext: 1",
            "hunter2-line",
        ),
        ("env:\n- name: DB_PASSWORD\n  value: hunter2", "hunter2"),
        (
            "{\"Name\":\"DB_PASSWORD\",\"Value\":\"hunter2\"}{\"page\":2}",
            "hunter2",
        ),
        ("'password' => 'hunter2'", "hunter2"),
        ("password := \"hunter2\"", "hunter2"),
        ("<password>hunter2</password>", "hunter2"),
        ("run --password hunter2 --verbose", "hunter2"),
        ("password=[hunter2]", "hunter2"),
        ("Cookie: _ga=GA1.2; session_id=hunter2", "hunter2"),
        ("https://user:p@ss-hunter2@host/x", "ss-hunter2"),
        (
            "https://ghx0123456789abcdefghij0123@github.com/acme",
            "ghx0123456789abcdefghij0123",
        ),
        (
            "post to https://hooks.slack.com/services/T000/B000/XXXXhunter2 now",
            "XXXXhunter2",
        ),
        ("xoxe-1-2048-0123456789abcdef refresh", "0123456789abcdef"),
    ];
    for (text, secret) in cases {
        let out = redact(text);
        assert_clean(&out, secret);
    }
    assert_eq!(
        redact("Authorization: Bearer s3cr3t"),
        "Authorization: Bearer [REDACTED]"
    );
    assert_eq!(redact("token: hunter2 rest"), "token: [REDACTED]");
    assert_eq!(
        redact("postgres://app:hunter2@db:5432/app"),
        "postgres://[REDACTED]@db:5432/app"
    );
}

#[test]
fn pem_private_keys_whole_or_cut() {
    // A key cut before its END line is redacted to where its base64 ends, not beyond.
    let cut = redact(
        "<f>\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJ\n</f>\nrules follow",
    );
    assert!(
        !cut.contains("MIIEow") && cut.ends_with("</f>\nrules follow"),
        "{cut}"
    );
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----";
    let out = redact(&format!("key:\n{pem}\nafter"));
    assert_clean(&out, "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn");
    assert!(out.ends_with("after"), "{out}");
    let escaped = pem.replace('\n', "\\n");
    assert_clean(&redact(&format!("{{\"tls.key\":\"{escaped}\"}}")), "MIIEow");
    let cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU";
    assert_clean(&redact(cut), "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU");
    let cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----";
    assert_eq!(redact(cert), cert, "public certificates stay");
}

#[test]
fn a_quote_never_swallows_the_next_line() {
    let text = "password=\"\n<untrusted-data source=\"x\">\nbody\n</untrusted-data>\nrules";
    let out = redact(text);
    assert!(out.contains("</untrusted-data>\nrules"), "{out}");
    let text = "password='\nwe don't\n</untrusted-data>";
    assert!(redact(text).ends_with("we don't\n</untrusted-data>"));
}

#[test]
fn linear_time_on_hostile_runs() {
    // Each of these took minutes when a scan restarted at every position.
    for unit in [
        "ask-",
        "eyJ.",
        "token=",
        "password=\"",
        "ghp_",
        "a://",
        "<password>",
    ] {
        let text = unit.repeat(256 * 1024 / unit.len());
        let _ = redact(&text);
    }
}

#[test]
fn lists_and_objects_under_credential_keys() {
    let mut v = json!({"password": ["hunter2"], "secret": {"v": "x"}, "apiKeys": [1, 2]});
    assert!(redact_json(&mut v));
    assert_eq!(
        v,
        json!({"password": REDACTED, "secret": REDACTED, "apiKeys": REDACTED})
    );
}

#[test]
fn json_values_by_key_and_env_pairs() {
    let mut v = json!({
        "spec": {"containers": [{"env": [
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "LOG_LEVEL", "value": "debug"},
        ]}]},
        "metadata": {"annotations": {
            "kubectl.kubernetes.io/last-applied-configuration":
                "{\"data\":{\"token\":\"hunter2\"},\"kind\":\"ConfigMap\"}"
        }},
        "secretName": "tls-cert",
        "automountServiceAccountToken": true,
    });
    assert!(redact_json(&mut v));
    let s = v.to_string();
    assert_clean(&s, "hunter2");
    assert!(s.contains("debug") && s.contains("tls-cert"), "{s}");
    assert_eq!(v["automountServiceAccountToken"], true);
}

#[test]
fn json_text_keeps_its_style() {
    let pretty = "{\n  \"token\": \"hunter2\",\n  \"n\": 1\n}";
    let out = redact(pretty);
    assert!(out.contains('\n') && !out.contains("hunter2"), "{out}");
    assert!(serde_json::from_str::<Value>(&out).is_ok());
    let untouched = "{\"b\":1,\"a\":2}";
    assert_eq!(
        redact(untouched),
        untouched,
        "unchanged JSON is not reprinted"
    );
}

#[test]
fn leaves_ordinary_text_alone() {
    for text in [
        "pod web-1 in namespace prod is CrashLoopBackOff (sk8s ok)",
        "uses sk-learn and mask-rcnn; see https://example.com:8443/path?q=1",
        "secretName: tls-cert, tokenTTL: 3600",
        "{\"nextPageToken\":\"abc\",\"max_token\":5}",
        "sk-prod-cluster-nodepool-1 and highs_and_lows_values",
        "the bearer of news",
        "git@github.com:acme/shop.git",
        "node condition disk-pressure-condition-xyz and task-runner-abcdefghijklmnop",
        "Bearer",
    ] {
        assert_eq!(redact(text), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_is_idempotent(text in "\\PC*") {
        let once = redact(&text);
        prop_assert_eq!(redact(&once), once.clone());
    }

    #[test]
    fn idempotent_on_secret_shaped_text(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("token".to_string()), Just("=".to_string()), Just(": ".to_string()),
                Just("\"".to_string()), Just("\\\"".to_string()), Just("Bearer ".to_string()),
                Just("https://u:p@h/".to_string()), Just("ghp_abcdefgh1234".to_string()),
                Just("-----BEGIN RSA PRIVATE KEY-----".to_string()), Just("{".to_string()),
                Just("}".to_string()), Just("[REDACTED]".to_string()), Just(" ".to_string()),
                Just("\n".to_string()), "[a-z0-9]{1,8}", "\\PC{0,4}",
            ],
            0..24,
        )
    ) {
        let text: String = parts.concat();
        let once = redact(&text);
        prop_assert_eq!(redact(&once), once.clone(), "input: {:?}", text);
    }

    /// After any text that ends a word (`sk-`, AWS ids and JWTs need a word start, so that
    /// `disk-pressure-…` stays; the other prefixes are found even inside a word).
    #[test]
    fn a_token_anywhere_is_gone(
        before in "\\PC{0,16}[ ,;:=(/'\"]",
        after in "[ ,;\"\\n]\\PC{0,16}",
        which in 0..TOKENS.len(),
    ) {
        let t = TOKENS[which];
        let out = redact(&format!("{before}{t}{after}"));
        prop_assert!(!out.contains(t), "{}", out);
    }
}

#[test]
fn runs_that_were_quadratic_are_linear() {
    // Each took minutes at these sizes when every `sk-` rescanned its run and every PEM
    // header searched the rest of the text for an END line.
    let sk = "sk-".repeat(100_000);
    assert_eq!(redact(&sk), sk);
    let pem = "-----BEGIN PRIVATE KEY-----!".repeat(20_000);
    assert!(redact(&pem).contains(REDACTED));
}

#[test]
fn more_families_and_exact_names() {
    for secret in [
        "xoxc-1234567890-abcdefABCDEF",
        "xoxd-1234567890-abcdefABCDEF",
        "sk_live_51HxAbCdEfGhIjKlMnOpQrSt",
        "rk_live_51HxAbCdEfGhIjKlMnOpQrSt",
        "AIzaSyA-1234567890abcdefghijklmnopqrs",
    ] {
        let out = redact(&format!("key {secret} here"));
        assert!(!out.contains(secret), "{out}");
    }
    for (text, secret) in [
        (
            "{\"auths\":{\"r.io\":{\"auth\":\"dXNlcjpodW50ZXIy\"}}}",
            "dXNlcjpodW50ZXIy",
        ),
        ("DB_PASS=hunter2", "hunter2"),
        ("SECRET_KEY_BASE=abcdef0123456789", "abcdef0123456789"),
        (
            "https://acct.blob.core.windows.net/c?sv=2022&sig=AbCdEf0123%3D",
            "AbCdEf0123",
        ),
    ] {
        let out = redact(text);
        assert!(!out.contains(secret), "{text} -> {out}");
    }
    // The working directory is no password.
    assert_eq!(redact("PWD=/home/app"), "PWD=/home/app");
}

#[test]
fn json_text_is_scanned_by_pattern_too() {
    let gh = "ghp_Adv3rs4r1alT0kenF0rTh3Appr0valFl0w12";
    for text in [
        format!("{{\"note\":\"{gh}\",\"note\":\"x\"}}"),
        format!("{{\"{gh}\":1}}"),
    ] {
        let out = redact(&text);
        assert!(!out.contains(gh), "{out}");
    }
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZHZlcnNhcnkifQ.QWR2ZXJzYXJpYWxTaWduYXR1cmU";
    for text in [format!("token {jwt}. Then"), format!("see {jwt}...")] {
        let out = redact(&text);
        assert!(!out.contains("QWR2ZXJzYXJpYWxTaWduYXR1cmU"), "{out}");
    }
}
