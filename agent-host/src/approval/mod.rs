//! The approval flow (being built, issue 7). So far the pure parts: evidence to facts, the
//! deterministic policy that gates every decision, and the decision that combines task, mode,
//! policy and verdict. The controller, evidence gathering and the guarded write come next.

pub mod decide;
pub mod evidence;
pub mod facts;
pub mod glob;
pub mod policy;
