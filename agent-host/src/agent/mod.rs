//! The bounded tool-use loop and its typed final answer.

pub mod answer;
pub mod run;
pub mod usage;

pub use run::{Outcome, RunRecord, RunSpec, ToolCallRecord, run};
