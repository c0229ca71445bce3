//! The rollback flow: on a schedule, read each watched target's traffic (Konnect analytics or Kong's Prometheus metrics); on
//! sustained errors find the decK config commit that caused them, revert it in a pull request
//! and tell Slack. Pure parts: [`detector`], [`deck`], [`attribution`]; I/O: [`pass`] (through
//! the MCP servers; [`history`], [`incident`] and [`act`] hold its steps), [`state`] (a file), [`schedule`] (the loop).

pub mod act;
pub mod attribution;
pub mod deck;
pub mod detector;
pub mod history;
pub mod incident;
pub mod pass;
pub mod schedule;
pub mod signal;
pub mod state;
