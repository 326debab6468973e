//! The per-connection message rate limit: a token bucket, plus a flood
//! detector that ends connections sending far beyond it.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Over the limit: drop the message. `notify` is true at most once a
    /// second, so a flood does not produce a flood of error messages.
    Drop {
        notify: bool,
    },
    /// Ten times the limit within one second: close the connection.
    Abuse,
}

#[derive(Debug)]
pub struct MessageRate {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    window_start: Instant,
    window_count: u32,
    last_notified: Option<Instant>,
}

impl MessageRate {
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        MessageRate {
            per_second: per_second as f64,
            burst: burst as f64,
            tokens: burst as f64,
            last: now,
            window_start: now,
            window_count: 0,
            last_notified: None,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last = now;

        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.window_count = 0;
        }
        self.window_count += 1;
        if self.window_count as f64 > 10.0 * self.per_second.max(self.burst / 10.0) {
            return Verdict::Abuse;
        }

        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Accept;
        }
        let notify = self
            .last_notified
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        if notify {
            self.last_notified = Some(now);
        }
        Verdict::Drop { notify }
    }
}

/// Chat messages per minute of one connection: a token bucket that holds a
/// minute's worth and refills evenly.
#[derive(Debug)]
pub struct ChatRate {
    per_minute: f64,
    tokens: f64,
    last: Instant,
}

impl ChatRate {
    pub fn new(per_minute: u32, now: Instant) -> Self {
        ChatRate {
            per_minute: f64::from(per_minute),
            tokens: f64::from(per_minute),
            last: now,
        }
    }

    /// Whether one more message may go now (and counts it if so).
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_minute / 60.0).min(self.per_minute);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_rate_is_per_minute() {
        let t0 = Instant::now();
        let mut r = ChatRate::new(30, t0);
        for _ in 0..30 {
            assert!(r.allow(t0));
        }
        assert!(!r.allow(t0));
        // Two seconds give one message back; a minute all of them.
        assert!(r.allow(t0 + Duration::from_secs(2)));
        assert!(!r.allow(t0 + Duration::from_secs(2)));
        let later = t0 + Duration::from_secs(120);
        for _ in 0..30 {
            assert!(r.allow(later));
        }
        assert!(!r.allow(later));
    }

    #[test]
    fn burst_then_steady_rate() {
        let t0 = Instant::now();
        let mut r = MessageRate::new(10, 20, t0);
        for _ in 0..20 {
            assert_eq!(r.check(t0), Verdict::Accept);
        }
        assert_eq!(r.check(t0), Verdict::Drop { notify: true });
        assert_eq!(r.check(t0), Verdict::Drop { notify: false });
        // 100 ms later one token is back.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(r.check(t1), Verdict::Accept);
        assert!(matches!(r.check(t1), Verdict::Drop { .. }));
    }

    #[test]
    fn flood_is_abuse() {
        let t0 = Instant::now();
        let mut r = MessageRate::new(10, 20, t0);
        let mut verdicts = (0..101).map(|_| r.check(t0));
        assert!(verdicts.any(|v| v == Verdict::Abuse));
    }

    #[test]
    fn a_quiet_second_resets_the_flood_window() {
        let t0 = Instant::now();
        let mut r = MessageRate::new(10, 20, t0);
        for _ in 0..90 {
            r.check(t0);
        }
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(r.check(t1), Verdict::Accept);
    }
}
