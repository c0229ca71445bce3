//! A circuit breaker for the model provider: after `threshold` consecutive failures it opens
//! and fails calls at once for `cooldown`; then one probe is let through (half-open), and a
//! success closes it. Pure over the `Instant`s it is given.

use std::time::{Duration, Instant};

/// Breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// The breaker.
#[derive(Debug)]
pub struct Breaker {
    state: State,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    /// Opens after `threshold` consecutive failures, for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            state: State::Closed { failures: 0 },
            threshold: threshold.max(1),
            cooldown,
        }
    }

    /// Whether a call may go now; `Err` carries the time left open.
    pub fn allow(&mut self, now: Instant) -> Result<(), Duration> {
        match self.state {
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. } => {
                self.state = State::HalfOpen;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Records a success.
    pub fn success(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    /// Records a failure.
    pub fn failure(&mut self, now: Instant) {
        self.state = match self.state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            _ => State::Open {
                until: now + self.cooldown,
            },
        };
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_after_the_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(30));
        for _ in 0..2 {
            b.failure(t0);
        }
        assert!(b.allow(t0).is_ok());
        b.failure(t0);
        assert_eq!(
            b.allow(t0 + Duration::from_secs(10)),
            Err(Duration::from_secs(20))
        );
        assert!(
            b.allow(t0 + Duration::from_secs(31)).is_ok(),
            "half-open probe"
        );
        b.failure(t0 + Duration::from_secs(31));
        assert!(
            b.allow(t0 + Duration::from_secs(32)).is_err(),
            "a failed probe reopens"
        );
        assert!(b.allow(t0 + Duration::from_secs(62)).is_ok());
        b.success();
        assert_eq!(b.state(), State::Closed { failures: 0 });
    }
}
