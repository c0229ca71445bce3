//! Small synchronisation helpers shared by the servers and the agent host.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data if another holder panicked: the guarded values here (caches,
/// counters, windows) stay consistent between statements, so one failed call must not poison
/// every later one.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
