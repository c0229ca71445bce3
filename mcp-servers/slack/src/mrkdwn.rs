//! Markdown (what models write) to Slack mrkdwn (what Slack renders).
//!
//! `**bold**` → `*bold*`, `*italic*`/`_italic_` → `_italic_`, `~~strike~~` → `~strike~`,
//! `[text](url)` → `<url|text>`, `# Heading` → `*Heading*`, `- item` → `• item`; `&`, `<`, `>`
//! are escaped as Slack requires. Code spans and fenced blocks pass through untouched.

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Converts one line outside code blocks.
fn line(l: &str) -> String {
    let trimmed = l.trim_start();
    let indent = &l[..l.len() - trimmed.len()];
    if let Some(h) = trimmed
        .strip_prefix("### ")
        .or_else(|| trimmed.strip_prefix("## "))
        .or_else(|| trimmed.strip_prefix("# "))
    {
        return format!("{indent}*{}*", inline(h.trim()));
    }
    if let Some(item) = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
    {
        return format!("{indent}• {}", inline(item));
    }
    format!("{indent}{}", inline(trimmed))
}

/// Inline markup of a line, leaving `code` spans as they are.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push('`');
            out.push_str(part);
            out.push('`');
        } else {
            out.push_str(&spans(part));
        }
    }
    out
}

fn spans(text: &str) -> String {
    // Links first, so their URLs are not touched by emphasis rules.
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close + 2..].find(')').map(|e| close + 2 + e) else {
            break;
        };
        out.push_str(&emphasis(&escape(&rest[..open])));
        let label = &rest[open + 1..close];
        let url = &rest[close + 2..end];
        out.push_str(&format!(
            "<{}|{}>",
            url.replace('|', "%7C").replace('>', "%3E"),
            escape(label)
        ));
        rest = &rest[end + 1..];
    }
    out.push_str(&emphasis(&escape(rest)));
    out
}

fn emphasis(s: &str) -> String {
    let s = swap(s, "**", "\u{1}");
    let s = swap(&s, "__", "\u{1}");
    let s = swap(&s, "~~", "~");
    let s = swap(&s, "*", "_");
    s.replace('\u{1}', "*")
}

/// Replaces paired `marker`s with `with` (an unpaired marker stays as it was).
fn swap(s: &str, marker: &str, with: &str) -> String {
    let parts: Vec<&str> = s.split(marker).collect();
    if parts.len() < 3 {
        return s.to_string();
    }
    let mut out = String::new();
    let pairs = (parts.len() - 1) / 2 * 2;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(if i <= pairs { with } else { marker });
        }
        out.push_str(p);
    }
    out
}

/// The whole message.
pub fn from_markdown(md: &str) -> String {
    let mut out = Vec::new();
    let mut in_code = false;
    for l in md.lines() {
        if l.trim_start().starts_with("```") {
            in_code = !in_code;
            out.push(l.trim().to_string());
            continue;
        }
        out.push(if in_code { l.to_string() } else { line(l) });
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_markdown_becomes_mrkdwn() {
        let md = "# Rollback\n**orders-route** is *failing*: see [PR #14](https://gh.example/pr/14)\n- 503 for `100%` of <requests>\n~~old~~";
        assert_eq!(
            from_markdown(md),
            "*Rollback*\n*orders-route* is _failing_: see <https://gh.example/pr/14|PR #14>\n• 503 for `100%` of &lt;requests&gt;\n~old~"
        );
    }

    #[test]
    fn code_blocks_pass_through() {
        let md = "```\n**not bold** <x>\n```";
        assert_eq!(from_markdown(md), md);
    }
}
