//! Cutting and parsing input-derived text without panicking: every cut lands on a UTF-8
//! boundary, every duration parsed from a header saturates instead of overflowing.

use std::time::Duration;

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// Shortens `text` to at most `max` bytes on a character boundary (`String::truncate` panics
/// inside a character).
pub fn truncate(text: &mut String, max: usize) {
    let keep = prefix(text, max).len();
    text.truncate(keep);
}

/// Seconds as a [`Duration`], for values read from upstreams (`Retry-After: 1e20`, `inf`,
/// `NaN`, negative): clamped to `[0, max]`, never a panic.
pub fn seconds(secs: f64, max: Duration) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("héllo", 3), "hé");
        let mut s = "🦀🦀".to_string();
        truncate(&mut s, 5);
        assert_eq!(s, "🦀");
    }

    #[test]
    fn hostile_durations_saturate() {
        let max = Duration::from_secs(3600);
        for v in [1e20, f64::INFINITY, f64::MAX] {
            assert_eq!(seconds(v, max), max);
        }
        for v in [f64::NAN, -1.0, f64::NEG_INFINITY, 0.0] {
            assert_eq!(seconds(v, max), Duration::ZERO);
        }
        assert_eq!(seconds(1.5, max), Duration::from_millis(1500));
    }

    proptest! {
        #[test]
        fn prefix_never_panics(text in "\\PC*", max in 0usize..64) {
            let p = prefix(&text, max);
            prop_assert!(p.len() <= max && text.starts_with(p));
        }
    }
}
