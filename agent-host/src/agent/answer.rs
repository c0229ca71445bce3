//! Typed final answers: a JSON Schema per flow, checked before anything acts on the answer.

use serde_json::{Value, json};

/// The name of the tool a model answers through when the provider lacks structured output.
pub const SUBMIT: &str = "submit_answer";

/// The `submit_answer` tool for `schema`.
pub fn submit_tool(schema: &Value) -> Value {
    json!({"type": "function", "function": {
        "name": SUBMIT,
        "description": "Submit your final answer. Call this exactly once, when you are done.",
        "parameters": schema,
    }})
}

/// Parses and validates an answer; `Err` lists what is wrong, for the repair turn.
pub fn check(schema: &Value, text: &str) -> Result<Value, String> {
    let trimmed = text
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let value: Value = serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"))?;
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| format!("the flow's schema is invalid: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| {
            format!(
                "{}: {e}",
                if e.instance_path().as_str().is_empty() {
                    "answer"
                } else {
                    e.instance_path().as_str()
                }
            )
        })
        .take(5)
        .collect();
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_and_validated() {
        let schema = json!({"type": "object", "required": ["decision"], "properties": {"decision": {"enum": ["approve", "reject"]}}});
        assert_eq!(
            check(&schema, "```json\n{\"decision\": \"approve\"}\n```").unwrap()["decision"],
            "approve"
        );
        assert!(
            check(&schema, "{\"decision\": \"maybe\"}")
                .unwrap_err()
                .contains("/decision")
        );
        assert!(
            check(&schema, "approve")
                .unwrap_err()
                .starts_with("not valid JSON")
        );
    }
}
