//! Text the host writes where people read it: ApprovalTask vote messages, Kubernetes Events,
//! Slack posts, pull-request bodies and comments.
//!
//! Those messages are built by code from a verdict's fields; the parts a model or an upstream
//! wrote (a reason, an explanation, a commit message) go in only through this module, which
//! redacts secrets, removes invisible characters, caps the length and defuses what would act
//! on the reader's side: mentions (`@team`, Slack's `<!here>`/`<@U1>`), issue references and
//! closing keywords (`Closes #12`, `Fixes https://…/issues/12`), HTML, and code fences that
//! would end the block they are quoted in. The pool also redacts every string argument of every
//! write call ([`crate::mcp::Pool::call`]), whatever built it.

use mcp_runtime::redact::redact;

/// One line, at most `max` characters: a vote message is read in `kubectl` output.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cap(&flat, max)
}

/// At most `max` characters (not bytes: a cut never splits a character), `…` when cut.
pub fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Foreign text made inert for a human-read message (see the module docs); newlines kept.
pub fn defuse(text: &str) -> String {
    let clean = mcp_runtime::fence::clean(&redact(text));
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        out.push(match c {
            '@' => '＠',
            '#' => '＃',
            '<' => '‹',
            '>' => '›',
            '`' => 'ˋ',
            // `~~~` opens a code block as well as backticks do.
            '~' => '∼',
            _ => c,
        });
    }
    // A URL to an issue closes it as well as `#12` does, `GH-12` references one, and a
    // Markdown link hides where it goes: defanged as security tools do.
    out.replace("://", "[:]//")
        .replace("](", "] (")
        .replace("www.", "www[.]")
        .replace("GH-", "GH‐")
        .replace("gh-", "gh‐")
}

/// Foreign text as one defused line of at most `max` characters.
pub fn quote(text: &str, max: usize) -> String {
    one_line(&defuse(text), max)
}

/// Foreign text as a Markdown block quote (`> ` on every line), defused, at most `max`
/// characters.
pub fn block_quote(text: &str, max: usize) -> String {
    cap(&defuse(text), max)
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Foreign text as a fenced code block its content cannot close: the fence is one backtick
/// longer than the longest run inside. Redacted and capped; inside a code block mentions and
/// references do not act, so they stay as written.
pub fn code_block(text: &str, max: usize) -> String {
    let body = cap(&mcp_runtime::fence::clean(&redact(text)), max);
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}\n{}\n{fence}", body.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defused_text_cannot_ping_close_or_link() {
        let hostile = "ok @platform-team <!here> <@U123> Closes #12, fixes https://github.com/acme/shop/issues/9 <img src=x> ``` ~~~ Closes GH-12 www.github.com/acme/shop/issues/9 [docs](//evil.example)";
        let out = quote(hostile, 500);
        for bad in [
            "@", "<", ">", "#12", "://", "```", "~~~", "GH-12", "www.", "](",
        ] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
        assert!(
            out.contains("platform-team") && out.contains("Closes"),
            "{out}"
        );
    }

    #[test]
    fn secrets_and_invisible_characters_are_gone() {
        let out = quote(
            "see token=hunter2 and ghp_R2d2C3poL8k1ngB34rTh1sIsF4k3Ab12cd\u{202E}\u{E0041}",
            500,
        );
        assert!(!out.contains("hunter2") && !out.contains("ghp_"), "{out}");
        assert!(
            !out.contains('\u{202E}') && !out.contains('\u{E0041}'),
            "{out}"
        );
    }

    #[test]
    fn code_blocks_cannot_be_closed_from_inside() {
        let out = code_block("revert\n````\n@all break out", 1000);
        let fence = out.lines().next().unwrap_or_default();
        assert_eq!(fence, "`````");
        assert_eq!(out.lines().last(), Some(fence));
        assert_eq!(out.matches(fence).count(), 2, "{out}");
    }

    #[test]
    fn caps_count_characters() {
        assert_eq!(cap("ééééé", 3), "éé…");
        assert_eq!(one_line("a\n b", 10), "a b");
        assert_eq!(block_quote("a\nb", 100), "> a\n> b");
        assert_eq!(
            block_quote("a\rb", 100),
            "> ab",
            "a lone CR cannot end the quote"
        );
    }
}
