//! Token figures a run can stand behind: the completion cap sized from a flow's answer schema,
//! and a tokenizer-free estimate for the calls whose usage the provider did not report (a
//! cancelled call, a stream without a usage chunk), always labelled as an estimate.

use serde_json::Value;

/// Characters per token of the estimate: about four for English text and JSON with words in
/// it, the usual figure for BPE tokenizers. An estimate, never a measurement.
const CHARS_PER_TOKEN: usize = 4;

/// The smallest cap sized from a schema: room for a tool call or a short answer.
const MIN_CAP: u32 = 256;
/// The largest: a schema without bounds must not mean an unbounded answer.
const MAX_CAP: u32 = 8192;

/// Tokens of `text` by the estimate (at least one for non-empty text).
pub fn estimate_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(CHARS_PER_TOKEN) as u64
}

/// The completion cap for answers of `schema`: the longest answer the schema allows
/// ([`max_chars`]) in estimated tokens, a quarter more for whitespace and tokenizer variance,
/// rounded up to a multiple of 256, between 256 and 8,192. The shipped verdict schema (five
/// reasons and ten evidence items of at most 200 characters) gives 1,024.
pub fn completion_cap(schema: &Value) -> u32 {
    let tokens = max_chars(schema, 0).div_ceil(CHARS_PER_TOKEN) as u64;
    let padded = tokens + tokens / 4;
    let rounded = padded.div_ceil(256).saturating_mul(256);
    rounded.clamp(u64::from(MIN_CAP), u64::from(MAX_CAP)) as u32
}

/// Defaults where a schema sets no bound: strings of 400 characters, arrays of 10 items.
const STRING_CHARS: usize = 400;
const ARRAY_ITEMS: usize = 10;

/// The longest JSON text (in characters) a value of `schema` can have, with the defaults
/// above where the schema sets no bound. Deep or recursive schemas stop at depth 8.
pub fn max_chars(schema: &Value, depth: usize) -> usize {
    if depth > 8 {
        return STRING_CHARS;
    }
    let bound = |key: &str, default: usize| {
        schema[key]
            .as_u64()
            .map_or(default, |n| usize::try_from(n).unwrap_or(default))
    };
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .map(|v| v.to_string().chars().count())
            .max()
            .unwrap_or(4);
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(ts) => ts.iter().find_map(Value::as_str).unwrap_or("string"),
        _ if schema["properties"].is_object() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let props = schema["properties"].as_object();
            2 + props.map_or(0, |p| {
                p.iter()
                    .map(|(k, v)| k.chars().count() + 4 + max_chars(v, depth + 1))
                    .sum()
            })
        }
        "array" => {
            let item = max_chars(&schema["items"], depth + 1);
            2 + bound("maxItems", ARRAY_ITEMS).min(1000) * (item + 2)
        }
        "number" | "integer" => 12,
        "boolean" => 5,
        "null" => 4,
        _ => 2 + bound("maxLength", STRING_CHARS).min(100_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_verdict_schema_gets_a_cap_of_1024() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../prompts/approval/verdict.schema.json"),
        )
        .unwrap_or_default();
        let schema: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(schema.is_object(), "the shipped schema parses");
        assert_eq!(completion_cap(&schema), 1024);
    }

    #[test]
    fn caps_stay_within_their_bounds() {
        assert_eq!(completion_cap(&json!({"type": "boolean"})), MIN_CAP);
        let huge = json!({"type": "array", "maxItems": 100000, "items": {"type": "string", "maxLength": 100000}});
        assert_eq!(completion_cap(&huge), MAX_CAP);
        // Recursion through `items` ends.
        let mut deep = json!({"type": "string"});
        for _ in 0..50 {
            deep = json!({"type": "array", "items": deep, "maxItems": 1});
        }
        assert!(completion_cap(&deep) <= MAX_CAP);
    }

    #[test]
    fn estimates_count_characters_not_bytes() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("ééééé"), 2);
    }
}
