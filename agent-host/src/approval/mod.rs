//! The approval flow. So far: the deterministic policy that gates every decision.

pub mod glob;
pub mod policy;
