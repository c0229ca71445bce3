//! The approval prompts' template contexts: identifiers and counts as they are (reduced to the
//! characters Kubernetes names allow), every text an upstream or a person wrote as
//! [`Untrusted`], so the templates can print it only fenced.

use minijinja::Value;

use super::decide::TaskView;
use super::evidence::Evidence;
use crate::prompt::Untrusted;

/// A Kubernetes-style identifier (name, namespace, pipeline) with anything a name cannot hold
/// removed: it is printed unfenced in the task's header.
pub fn ident(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | ':'))
        .take(253)
        .collect()
}

/// The system prompt's context: the deterministic policy's findings (they quote paths and
/// image names) and the approver's mode.
pub fn system(policy_summary: &str, mode: &str) -> Value {
    minijinja::context! {
        policy_summary => Untrusted::value(policy_summary),
        mode => mode,
    }
}

/// The task prompt's context.
pub fn task(
    namespace: &str,
    name: &str,
    pipeline: &str,
    view: &TaskView,
    description: &str,
    ev: &Evidence,
) -> Value {
    let evidence: Vec<Value> = ev
        .texts
        .iter()
        .map(|(label, text)| {
            minijinja::context! { label => label, text => Untrusted::value(text.as_str()) }
        })
        .collect();
    minijinja::context! {
        namespace => ident(namespace),
        name => ident(name),
        pipeline => ident(pipeline),
        received => view.received,
        required => view.required,
        seconds_left => view.seconds_left,
        description => Untrusted::value(description),
        evidence => evidence,
        // Notes quote upstream errors.
        notes => Untrusted::values(&ev.notes),
    }
}
