//! When to renew and when to retry: plain functions of times and a random
//! number, so they are tested without clocks or a CA.

use std::time::{Duration, SystemTime};

/// The renewal point of a certificate valid from `not_before` to
/// `not_after`: two thirds into its lifetime, moved earlier by up to a
/// twentieth of the lifetime (`r` in [0, 1) picks where), so many servers
/// set up together do not all renew in the same minute.
pub fn renewal_time(not_before: SystemTime, not_after: SystemTime, r: f64) -> SystemTime {
    let lifetime = not_after
        .duration_since(not_before)
        .unwrap_or(Duration::ZERO);
    let two_thirds = lifetime.mul_f64(2.0 / 3.0);
    let jitter = lifetime.mul_f64(r.clamp(0.0, 1.0) / 20.0);
    not_before + two_thirds.saturating_sub(jitter)
}

/// A point in an ACME renewal-information window (RFC 9773 §4.2: pick
/// uniformly at random within it).
pub fn in_window(start: SystemTime, end: SystemTime, r: f64) -> SystemTime {
    let width = end.duration_since(start).unwrap_or(Duration::ZERO);
    start + width.mul_f64(r.clamp(0.0, 1.0))
}

/// The wait after `failures` (≥ 1) failed attempts in a row: `first`,
/// doubled for each further failure, at most `max`; then scaled by a factor
/// in [0.8, 1.2) (`r` in [0, 1) picks it).
pub fn backoff(failures: u32, first: Duration, max: Duration, r: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    let base = first.saturating_mul(1u32 << doublings).min(max);
    base.mul_f64(0.8 + 0.4 * r.clamp(0.0, 1.0))
}

/// How long to sleep towards `target` in one go: wall-clock time can jump
/// (suspend, NTP), so long waits are taken in steps and the target is
/// checked again after each.
pub fn next_sleep(now: SystemTime, target: SystemTime) -> Option<Duration> {
    const STEP: Duration = Duration::from_secs(3600);
    match target.duration_since(now) {
        Ok(d) if !d.is_zero() => Some(d.min(STEP)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn renews_at_two_thirds_of_the_lifetime_never_later() {
        let start = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let end = start + 90 * DAY;
        assert_eq!(renewal_time(start, end, 0.0), start + 60 * DAY);
        let earliest = renewal_time(start, end, 0.999_999);
        assert!(earliest < start + 60 * DAY && earliest > start + 55 * DAY);
        // A broken certificate (ends before it starts) renews at once.
        assert_eq!(renewal_time(end, start, 0.5), end);
    }

    #[test]
    fn window_point_lies_in_the_window() {
        let start = SystemTime::UNIX_EPOCH + DAY;
        let end = start + 2 * DAY;
        assert_eq!(in_window(start, end, 0.0), start);
        assert_eq!(in_window(start, end, 0.5), start + DAY);
        assert_eq!(in_window(end, start, 0.5), end);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let first = Duration::from_secs(60);
        let max = Duration::from_secs(6 * 3600);
        let plain: Vec<u64> = (1..=12)
            .map(|n| backoff(n, first, max, 0.5).as_secs())
            .collect();
        assert_eq!(
            plain,
            [
                60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600
            ]
        );
        assert_eq!(backoff(1, first, max, 0.0), Duration::from_secs(48));
        assert!(backoff(1, first, max, 0.999) < Duration::from_secs(72));
        assert_eq!(backoff(u32::MAX, first, max, 0.5), max);
        // Even with the worst jitter the waits grow.
        assert!(backoff(2, first, max, 0.0) > backoff(1, first, max, 0.999));
    }

    #[test]
    fn long_waits_are_taken_in_steps() {
        let now = SystemTime::UNIX_EPOCH + DAY;
        assert_eq!(next_sleep(now, now + DAY), Some(Duration::from_secs(3600)));
        assert_eq!(
            next_sleep(now, now + Duration::from_secs(5)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(next_sleep(now, now), None);
        assert_eq!(next_sleep(now + DAY, now), None);
    }
}
