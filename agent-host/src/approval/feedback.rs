//! Learning from humans: once a task is final, the human votes (a snapshot of the approvers and
//! `status.approversResponse`) are compared with what the AI decided. Agreement is +1,
//! disagreement -1, and a task no human voted on (a timeout) is 0: unlabelled, not a reject.
//! The audit log's decision and feedback lines then export as standard fine-tuning JSONL:
//! OpenAI chat-format examples (SFT) of decisions humans agreed with, and preference pairs (DPO)
//! where they disagreed. Pure: values in, values out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Kind tag of a decision line in the audit log.
pub const DECISION: &str = "approval_decision";
/// Kind tag of a feedback line.
pub const FEEDBACK: &str = "approval_feedback";

/// What the humans decided, from their entries (everyone but `identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Human {
    Approve,
    Reject,
    /// Nobody but the AI voted (a timeout, or the AI's vote alone completed it).
    None,
}

/// The humans' decision: any human reject wins (it is what fails the pipeline), then any approve.
pub fn human_decision(task: &Value, identity: &str) -> Human {
    let mut votes = Vec::new();
    for a in task["spec"]["approvers"].as_array().into_iter().flatten() {
        let is_user = a["type"].as_str().unwrap_or("User") == "User";
        if is_user {
            if a["name"] != identity {
                votes.push(a["input"].as_str().unwrap_or("pending").to_string());
            }
        } else {
            for m in a["users"].as_array().into_iter().flatten() {
                if m["name"] != identity {
                    votes.push(m["input"].as_str().unwrap_or("pending").to_string());
                }
            }
        }
    }
    if votes.iter().any(|v| v == "reject") {
        Human::Reject
    } else if votes.iter().any(|v| v == "approve") {
        Human::Approve
    } else {
        Human::None
    }
}

/// The reward of the AI's stance (`approve` or `reject`; anything else has none to compare).
pub fn reward(ai: Option<bool>, human: Human) -> i8 {
    match (ai, human) {
        (Some(a), Human::Approve) => {
            if a {
                1
            } else {
                -1
            }
        }
        (Some(a), Human::Reject) => {
            if a {
                -1
            } else {
                1
            }
        }
        _ => 0,
    }
}

/// A decision line joined with its feedback line.
struct Labelled<'a> {
    decision: &'a Value,
    feedback: &'a Value,
}

fn labelled(lines: &[Value]) -> Vec<Labelled<'_>> {
    let decisions: BTreeMap<&str, &Value> = lines
        .iter()
        .filter(|l| l["kind"] == DECISION)
        .filter_map(|l| Some((l["audit_id"].as_str()?, l)))
        .collect();
    lines
        .iter()
        .filter(|l| l["kind"] == FEEDBACK)
        .filter_map(|f| {
            Some(Labelled {
                decision: decisions.get(f["audit_id"].as_str()?)?,
                feedback: f,
            })
        })
        .collect()
}

/// The conversation up to the model's final answer, and that answer as plain content.
fn conversation(run: &Value) -> Option<(Vec<Value>, Value)> {
    let answer = run["outcome"]["value"].clone();
    if answer.is_null() {
        return None;
    }
    let mut messages = run["messages"].as_array()?.clone();
    while messages.last().is_some_and(|m| m["role"] != "assistant") {
        messages.pop();
    }
    messages.pop();
    Some((messages, answer))
}

fn tools_of(run: &Value) -> Vec<Value> {
    run["tools_offered"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|n| json!({"type": "function", "function": {"name": n}}))
        .collect()
}

/// The answer a human's decision stands for, in the model's own output format.
fn human_answer(f: &Value) -> Value {
    let decision = f["human"].as_str().unwrap_or("abstain");
    let said: Vec<String> = f["human_messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let reason = if said.is_empty() {
        format!("a human reviewer decided to {decision}")
    } else {
        format!(
            "a human reviewer decided to {decision}: {}",
            said.join("; ")
        )
    };
    json!({"decision": decision, "confidence": 1.0, "reasons": [reason], "evidence": []})
}

/// Export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"messages": [...]}` of decisions humans agreed with.
    Sft,
    /// `{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}`
    /// where they disagreed.
    Dpo,
}

/// The training records of `lines` (the audit log) in `format`.
pub fn export(lines: &[Value], format: Format) -> Vec<Value> {
    labelled(lines)
        .into_iter()
        .filter_map(|l| {
            let (messages, answer) = conversation(&l.decision["run"])?;
            let reward = l.feedback["reward"].as_i64()?;
            let content = |v: &Value| json!({"role": "assistant", "content": v.to_string()});
            match format {
                Format::Sft if reward == 1 => {
                    let mut all = messages;
                    all.push(content(&answer));
                    Some(json!({"messages": all, "tools": tools_of(&l.decision["run"])}))
                }
                Format::Dpo if reward == -1 => Some(json!({
                    "input": {"messages": messages, "tools": tools_of(&l.decision["run"])},
                    "preferred_output": [content(&human_answer(l.feedback))],
                    "non_preferred_output": [content(&answer)],
                })),
                _ => None,
            }
        })
        .collect()
}

/// Agreement counts for one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub agree: u64,
    pub disagree: u64,
    pub unlabelled: u64,
}

impl Tally {
    /// Agreement among labelled decisions, when there are any.
    pub fn rate(&self) -> Option<f64> {
        let n = self.agree + self.disagree;
        (n > 0).then(|| self.agree as f64 / n as f64)
    }
}

/// Agreement per (dimension, value): dimensions `namespace`, `pipeline`, `model`.
pub fn report(lines: &[Value]) -> BTreeMap<(String, String), Tally> {
    let mut out: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for f in lines.iter().filter(|l| l["kind"] == FEEDBACK) {
        for dim in ["namespace", "pipeline", "model"] {
            let value = f[dim].as_str().unwrap_or("-").to_string();
            let t = out.entry((dim.to_string(), value)).or_default();
            match f["reward"].as_i64() {
                Some(1) => t.agree += 1,
                Some(-1) => t.disagree += 1,
                _ => t.unlabelled += 1,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(inputs: &[(&str, &str, &str)]) -> Value {
        let approvers: Vec<Value> = inputs
            .iter()
            .map(|(name, kind, input)| {
                if *kind == "Group" {
                    json!({"name": name, "type": "Group", "input": "pending", "users": [{"name": "bob", "input": input}]})
                } else {
                    json!({"name": name, "type": "User", "input": input})
                }
            })
            .collect();
        json!({"spec": {"approvers": approvers}})
    }

    #[test]
    fn humans_decide_and_rewards_follow() {
        let t = task(&[
            ("alice", "User", "approve"),
            ("ai", "User", "approve"),
            ("rm", "Group", "pending"),
        ]);
        assert_eq!(human_decision(&t, "ai"), Human::Approve);
        let t = task(&[
            ("alice", "User", "approve"),
            ("ai", "User", "approve"),
            ("rm", "Group", "reject"),
        ]);
        assert_eq!(human_decision(&t, "ai"), Human::Reject);
        let t = task(&[("alice", "User", "pending"), ("ai", "User", "approve")]);
        assert_eq!(
            human_decision(&t, "ai"),
            Human::None,
            "our own vote is not a human's"
        );
        assert_eq!(reward(Some(true), Human::Approve), 1);
        assert_eq!(reward(Some(true), Human::Reject), -1);
        assert_eq!(reward(Some(false), Human::Reject), 1);
        assert_eq!(reward(Some(false), Human::None), 0);
        assert_eq!(reward(None, Human::Approve), 0);
    }

    fn lines(reward: i64) -> Vec<Value> {
        vec![
            json!({"kind": DECISION, "audit_id": "a1", "run": {
                "outcome": {"kind": "answer", "value": {"decision": "approve", "confidence": 0.9, "reasons": ["ok"], "evidence": []}},
                "tools_offered": ["github__commit_get"],
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "c1"}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "r"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "c2", "function": {"name": "submit_answer"}}]}]}}),
            json!({"kind": FEEDBACK, "audit_id": "a1", "reward": reward, "human": "reject", "human_messages": ["breaks prod"],
                "namespace": "ci", "pipeline": "p", "model": "m"}),
            json!({"kind": FEEDBACK, "audit_id": "missing", "reward": 1}),
        ]
    }

    #[test]
    fn agreed_decisions_export_as_chat_examples_and_disagreements_as_pairs() {
        let sft = export(&lines(1), Format::Sft);
        assert_eq!(sft.len(), 1);
        let m = sft[0]["messages"].as_array().unwrap();
        assert_eq!(m.len(), 5, "system, user, one tool round, the answer");
        assert_eq!(m[4]["role"], "assistant");
        assert!(m[4]["content"].as_str().unwrap().contains("\"approve\""));
        assert!(export(&lines(1), Format::Dpo).is_empty());
        let dpo = export(&lines(-1), Format::Dpo);
        assert_eq!(dpo.len(), 1);
        assert!(
            dpo[0]["preferred_output"][0]["content"]
                .as_str()
                .unwrap()
                .contains("breaks prod")
        );
        assert!(
            dpo[0]["non_preferred_output"][0]["content"]
                .as_str()
                .unwrap()
                .contains("\"approve\"")
        );
        assert_eq!(dpo[0]["input"]["messages"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn the_report_counts_per_dimension() {
        let mut l = lines(1);
        l.extend(lines(-1));
        l.push(json!({"kind": FEEDBACK, "audit_id": "x", "reward": 0, "namespace": "ci", "pipeline": "p", "model": "m"}));
        let r = report(&l);
        let ci = r[&("namespace".to_string(), "ci".to_string())];
        assert_eq!(
            ci,
            Tally {
                agree: 1,
                disagree: 1,
                unlabelled: 1
            }
        );
        assert_eq!(ci.rate(), Some(0.5));
    }
}
