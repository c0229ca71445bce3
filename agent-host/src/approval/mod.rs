//! The approval flow. So far: the deterministic policy that gates every decision and the pure
//! decision that combines task, mode, policy and verdict.

pub mod decide;
pub mod glob;
pub mod policy;
