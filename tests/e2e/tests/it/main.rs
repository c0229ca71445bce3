//! End-to-end tests: the flows, their evidence, the Helm chart and the example files, in one
//! test binary (each binary links the whole stack; one instead of five keeps the build's disk
//! use and link time down).

mod adversarial;
mod approval_alerts;
mod approval_evidence;
mod approval_fault_matrix;
mod approval_faults;
mod approval_flow;
mod approval_images;
mod chart;
mod co_approver;
mod examples;
mod fenced_outputs;
mod panic_hunt;
mod real_llm;
mod rollback_flow;
mod rollback_prometheus;
mod rollback_reverts;
