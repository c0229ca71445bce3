//! The model's answer, already validated against `prompts/approval/verdict.schema.json` by the
//! loop, turned into a [`Verdict`]. Anything else (no answer, an unknown decision) is no verdict,
//! which the decision treats as abstain: the flow fails closed.

use serde_json::Value;

use super::decide::Verdict;
use crate::agent::Outcome;

/// The verdict of a run.
pub fn from_outcome(outcome: &Outcome) -> Verdict {
    let value = match outcome {
        Outcome::NoDecision { reason } | Outcome::Unavailable { reason } => {
            return Verdict::None {
                reason: reason.clone(),
            };
        }
        Outcome::Answer { value } => value,
    };
    let reasons = value["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    let confidence = value["confidence"].as_f64().unwrap_or(0.0);
    match value["decision"].as_str() {
        Some("approve") => Verdict::Approve {
            confidence,
            reason: reasons,
        },
        // A reject fails the whole pipeline run: it must cite what it saw.
        Some("reject")
            if value["evidence"].as_array().is_none_or(|e| {
                e.iter()
                    .all(|x| x.as_str().is_none_or(|s| s.trim().is_empty()))
            }) =>
        {
            Verdict::Abstain {
                reason: format!("the model would reject but cites no evidence: {reasons}"),
            }
        }
        Some("reject") => Verdict::Reject {
            confidence,
            reason: reasons,
        },
        Some("abstain") => Verdict::Abstain { reason: reasons },
        other => Verdict::None {
            reason: format!("unknown decision {other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_map_to_verdicts_and_anything_else_to_none() {
        let v = from_outcome(&Outcome::Answer {
            value: json!({"decision": "approve", "confidence": 0.9, "reasons": ["a", "b"], "evidence": []}),
        });
        assert_eq!(
            v,
            Verdict::Approve {
                confidence: 0.9,
                reason: "a; b".into()
            }
        );
        assert!(matches!(
            from_outcome(&Outcome::Answer {
                value: json!({"decision": "yes"})
            }),
            Verdict::None { .. }
        ));
        assert!(matches!(
            from_outcome(&Outcome::NoDecision {
                reason: "budget".into()
            }),
            Verdict::None { .. }
        ));
    }
}
