//! Konnect allows 10 `/v2/metrics` requests per minute per token. One [`MetricsGate`] per
//! process shares that budget between every caller: a sliding window decides whether a query
//! may go now, must wait, or is refused with the wait; identical queries within a short TTL are
//! answered from a cache and spend nothing.

use mcp_runtime::sync::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the window allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send now (the slot is taken).
    Go,
    /// The next slot frees in this long.
    Wait(Duration),
}

/// A sliding window of `limit` requests per `window`. Pure over the `now` it is given.
#[derive(Debug)]
pub struct Window {
    limit: usize,
    window: Duration,
    sent: VecDeque<Instant>,
}

impl Window {
    /// `limit` requests per `window`.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            sent: VecDeque::new(),
        }
    }

    /// Takes a slot at `now`, or says how long until one frees.
    pub fn admit(&mut self, now: Instant) -> Admission {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit {
            self.sent.push_back(now);
            return Admission::Go;
        }
        let oldest = self.sent.front().copied().unwrap_or(now);
        Admission::Wait(self.window.saturating_sub(now.duration_since(oldest)))
    }
}

/// The process-wide gate in front of `/v2/metrics`.
pub struct MetricsGate {
    window: Mutex<Window>,
    cache: Mutex<HashMap<String, (Instant, Value)>>,
    ttl: Duration,
    max_wait: Duration,
}

/// A query refused because the budget is spent for longer than the caller may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted(pub Duration);

impl MetricsGate {
    /// `per_minute` queries, cached `ttl`, waiting at most `max_wait` for a slot.
    pub fn new(per_minute: usize, ttl: Duration, max_wait: Duration) -> Self {
        Self {
            window: Mutex::new(Window::new(per_minute, Duration::from_secs(60))),
            cache: Mutex::new(HashMap::new()),
            ttl,
            max_wait,
        }
    }

    /// A cached answer to an identical query younger than the TTL.
    pub fn cached(&self, key: &str) -> Option<Value> {
        let mut cache = lock(&self.cache);
        let now = Instant::now();
        cache.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
        cache.get(key).map(|(_, v)| v.clone())
    }

    /// Remembers an answer.
    pub fn store(&self, key: String, value: Value) {
        lock(&self.cache).insert(key, (Instant::now(), value));
    }

    /// Waits for a slot (up to `max_wait`) or says how long the caller would have to wait.
    pub async fn acquire(&self) -> Result<(), Exhausted> {
        let deadline = Instant::now() + self.max_wait;
        loop {
            let now = Instant::now();
            let admission = lock(&self.window).admit(now);
            match admission {
                Admission::Go => return Ok(()),
                Admission::Wait(d) if now + d <= deadline => {
                    tokio::time::sleep(d.max(Duration::from_millis(10))).await;
                }
                Admission::Wait(d) => return Err(Exhausted(d)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_admits_ten_per_minute_then_says_when() {
        let mut w = Window::new(10, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(w.admit(t0 + Duration::from_secs(i)), Admission::Go);
        }
        assert_eq!(
            w.admit(t0 + Duration::from_secs(30)),
            Admission::Wait(Duration::from_secs(30))
        );
        assert_eq!(
            w.admit(t0 + Duration::from_secs(60)),
            Admission::Go,
            "the first slot freed"
        );
    }
}
