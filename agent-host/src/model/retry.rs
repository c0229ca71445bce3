//! When to retry a model request and how long to wait: exponential backoff with jitter, unless
//! the provider said when (`Retry-After`, or OpenAI's `x-ratelimit-reset-requests|tokens`).
//! Pure functions; the transport applies them.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// Retry settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff step.
    pub base: Duration,
    /// Longest single wait; a provider asking for more ends the attempt instead.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// The longest wait a provider's header can ask for (a day): a longer or absurd value
/// (`Retry-After: 1e20`) saturates here, and `max_wait` then ends the attempt.
const MAX_PROVIDER_WAIT: Duration = Duration::from_secs(86_400);

/// Statuses worth retrying: rate limits and transient server errors.
pub fn retryable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        408 | 409 | 429 | 500 | 502 | 503 | 504 | 529
    )
}

/// Parses OpenAI's reset durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
pub fn parse_reset(text: &str) -> Option<Duration> {
    let mut total = 0.0f64;
    let mut num = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut seen = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let value: f64 = num.parse().ok()?;
        num.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('h', _) => 3600.0,
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return None,
        };
        total += value * unit;
        seen = true;
    }
    if !num.is_empty() {
        // A bare number is seconds.
        total += num.parse::<f64>().ok()?;
        seen = true;
    }
    seen.then(|| mcp_runtime::text::seconds(total, MAX_PROVIDER_WAIT))
}

/// The wait the provider asked for, if any.
pub fn provider_wait(headers: &HeaderMap) -> Option<Duration> {
    let get = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if let Some(v) = get("retry-after-ms").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_millis(v));
    }
    if let Some(v) = get("retry-after") {
        if let Ok(secs) = v.trim().parse::<f64>() {
            return Some(mcp_runtime::text::seconds(secs, MAX_PROVIDER_WAIT));
        }
        if let Ok(at) = jiff::fmt::rfc2822::parse(v.trim()).map(|z| z.timestamp()) {
            let secs = at.as_second() - jiff::Timestamp::now().as_second();
            return Some(Duration::from_secs(secs.max(0) as u64));
        }
    }
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|k| get(k).and_then(parse_reset))
        .max()
}

/// Exponential backoff with full jitter in [½, 1] of the step; `jitter` is in [0, 1).
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let step = policy
        .base
        .saturating_mul(2u32.saturating_pow(attempt.min(16)));
    step.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
        .min(policy.max_wait)
}

/// A cheap jitter source in [0, 1) (no cryptographic quality needed).
pub fn jitter() -> f64 {
    let nanos = jiff::Timestamp::now().subsec_nanosecond() as u64;
    ((nanos.wrapping_mul(6_364_136_223_846_793_005) >> 11) % 1_000_000) as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_waits_saturate_instead_of_panicking() {
        let mut h = HeaderMap::new();
        for v in ["1e20", "inf", "NaN", "-5"] {
            h.insert("retry-after", v.parse().unwrap());
            assert!(provider_wait(&h).unwrap() <= MAX_PROVIDER_WAIT, "{v}");
        }
        assert_eq!(
            parse_reset("99999999999999999999h"),
            Some(MAX_PROVIDER_WAIT)
        );
    }

    #[test]
    fn reset_durations_parse_like_openai_prints_them() {
        assert_eq!(parse_reset("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_reset("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(
            parse_reset("1h2m3.5s"),
            Some(Duration::from_secs_f64(3723.5))
        );
        assert_eq!(parse_reset("soon"), None);
    }

    #[test]
    fn the_provider_wait_wins_and_backoff_grows() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "9s".parse().unwrap());
        assert_eq!(provider_wait(&h), Some(Duration::from_secs(3)));
        h.remove("retry-after");
        assert_eq!(provider_wait(&h), Some(Duration::from_secs(9)));
        let p = RetryPolicy::default();
        assert!(
            backoff(&p, 0, 0.0) == Duration::from_millis(250)
                && backoff(&p, 3, 0.99) <= Duration::from_secs(4)
        );
        assert_eq!(backoff(&p, 30, 0.5), p.max_wait);
    }
}
