//! Output budgets: compact results and a hard cap on what a tool may return.
//!
//! Tool schemas and results are paid for in every model call, so results are built as compact
//! rows ([`Table`]) and then capped by [`cap`]: text is cut at a row (line) boundary and ends with
//! a note saying how to narrow the query. A tool can name its own narrowing hint with
//! [`with_hint`]; the hint travels in `_meta` and is consumed here.

use rmcp::model::{CallToolResult, ContentBlock, MetaObject};
use serde_json::Value;

/// `_meta` key carrying a tool's narrowing hint to [`cap`].
const HINT_KEY: &str = "narrowHint";

/// A text result, possibly with a narrowing hint used if it has to be cut.
pub fn text(body: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(body.into())])
}

/// A structured result: `structuredContent` plus the same JSON as compact text for clients that
/// only read text.
pub fn json(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

/// A text result for the model plus machine-readable `structuredContent` for programs (flows,
/// scripts). Models read the text, so any free text in it is fenced; the data is for code,
/// which treats any free text in it as data, never as instructions.
pub fn text_with_data(body: impl Into<String>, data: Value) -> CallToolResult {
    let mut r = text(body);
    r.structured_content = Some(data);
    r
}

/// Attaches the hint shown if `result` has to be cut (e.g. "use tail_lines", "pass the cursor").
pub fn with_hint(mut result: CallToolResult, hint: impl Into<String>) -> CallToolResult {
    let meta = result.meta.get_or_insert_with(MetaObject::default);
    meta.0
        .insert(HINT_KEY.to_string(), Value::String(hint.into()));
    result
}

/// Caps the text of `result` at `max_bytes`, cutting at a line boundary and appending a note.
/// Structured content too large for the budget is dropped (the capped text remains). Returns
/// whether anything was cut.
pub fn cap(mut result: CallToolResult, max_bytes: usize) -> (CallToolResult, bool) {
    let hint = take_hint(&mut result);
    let total: usize = text_len(&result);
    let structured_len = result
        .structured_content
        .as_ref()
        .map(|v| v.to_string().len())
        .unwrap_or(0);
    if total <= max_bytes && structured_len <= max_bytes {
        return (result, false);
    }
    if structured_len > max_bytes {
        result.structured_content = None;
    }
    let mut remaining = max_bytes;
    let mut kept_rows = 0usize;
    let mut total_rows = 0usize;
    for block in &mut result.content {
        if let Some(t) = block.as_text() {
            let original = t.text.clone();
            total_rows += original.lines().count();
            let cut = cut_at_line(&original, remaining);
            kept_rows += cut.lines().count();
            remaining = remaining.saturating_sub(cut.len());
            *block = ContentBlock::text(cut.to_string());
        }
    }
    let hint = hint.unwrap_or_else(|| {
        "Narrow the query (a selector, a smaller limit, a tail, or the cursor) to see the rest."
            .to_string()
    });
    let note = format!(
        "\n[output cut at {} of {} bytes: {} of {} rows shown. {}]",
        max_bytes.min(total),
        total.max(structured_len),
        kept_rows,
        total_rows,
        hint
    );
    result.content.push(ContentBlock::text(note));
    (result, true)
}

fn take_hint(result: &mut CallToolResult) -> Option<String> {
    let meta = result.meta.as_mut()?;
    let hint = meta
        .0
        .remove(HINT_KEY)
        .and_then(|v| v.as_str().map(str::to_string));
    if meta.0.is_empty() {
        result.meta = None;
    }
    hint
}

fn text_len(result: &CallToolResult) -> usize {
    result
        .content
        .iter()
        .filter_map(|b| b.as_text().map(|t| t.text.len()))
        .sum()
}

/// The longest prefix of `text` ending at a line boundary that fits in `max` bytes (at least one
/// char boundary is respected even when a single line is larger than the budget).
fn cut_at_line(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[..end].rfind('\n') {
        Some(nl) => &text[..=nl],
        None => &text[..end],
    }
}

/// Compact aligned rows, like `kubectl get`: one header, one line per item.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells render as `-`.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders with columns padded to their widest cell, separated by two spaces.
    pub fn render(&self) -> String {
        let cols = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(one_line(cell).chars().count());
            }
        }
        let mut out = String::new();
        let mut push = |cells: &mut dyn Iterator<Item = String>| {
            let line: Vec<String> = cells
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        };
        push(&mut self.headers.iter().cloned());
        for row in &self.rows {
            push(&mut (0..cols).map(|i| {
                row.get(i)
                    .map(|c| one_line(c))
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| "-".to_string())
            }));
        }
        out
    }
}

/// Cells are single-line: newlines and tabs become spaces so one row stays one line.
fn one_line(cell: &str) -> String {
    cell.replace(['\n', '\r', '\t'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_text(r: &CallToolResult) -> String {
        r.content
            .iter()
            .filter_map(|b| b.as_text().map(|t| t.text.clone()))
            .collect()
    }

    #[test]
    fn small_results_pass_untouched() {
        let (r, cut) = cap(text("a\nb\n"), 100);
        assert!(!cut);
        assert_eq!(all_text(&r), "a\nb\n");
    }

    #[test]
    fn large_results_cut_at_a_row_with_the_tools_hint() {
        let body: String = (0..100).map(|i| format!("row-{i:03}\n")).collect();
        let (r, cut) = cap(with_hint(text(body), "use tail_lines"), 50);
        assert!(cut);
        let out = all_text(&r);
        let first = r.content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        assert!(first.len() <= 50 && first.ends_with('\n'), "{first:?}");
        assert!(out.contains("6 of 100 rows shown"), "{out}");
        assert!(out.contains("use tail_lines"), "{out}");
        assert!(r.meta.is_none());
    }

    #[test]
    fn oversized_structured_content_is_dropped() {
        let big = serde_json::json!({"items": vec!["x".repeat(10); 50]});
        let (r, cut) = cap(json(big), 100);
        assert!(cut);
        assert!(r.structured_content.is_none());
    }

    #[test]
    fn table_aligns_and_fills_missing_cells() {
        let mut t = Table::new(["NAME", "STATUS"]);
        t.row(["a", "Running"]);
        t.row(["long-name", ""]);
        t.row(["multi\nline"]);
        assert_eq!(
            t.render(),
            "NAME        STATUS\na           Running\nlong-name   -\nmulti line  -\n"
        );
    }
}
