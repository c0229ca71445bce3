//! The approval flow: an AI approver of Tekton ApprovalTasks.
//!
//! Pure decisions ([`policy`], [`facts`], [`decide`], [`verdict`], [`patch`], [`feedback`]) are
//! called by thin I/O code: [`evidence`] (through the MCP servers), [`review`] (one task, one
//! step), [`apply`] (the guarded vote, Events, Slack), [`store`] (decision records outside the
//! task) and [`controller`] (the watch).

pub mod apply;
pub mod controller;
pub mod decide;
pub mod evidence;
pub mod facts;
pub mod feedback;
pub mod glob;
pub mod patch;
pub mod policy;
pub mod policy_file;
pub mod prompt_context;
pub mod review;
pub mod store;
pub mod verdict;
