//! What the synthetic participants measure: the measurement window, received
//! packets per publisher track (loss from the stamps' counters), one-way
//! latency in a histogram.

use crate::media::{Kind, Stamp};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The measurement window, set by the orchestrator when it reads the
/// server's counters. A packet counts if it was *sent* inside the window,
/// on both the sending and the receiving side, so packets in flight at the
/// edges are neither lost nor counted twice.
pub struct Window {
    epoch: Instant,
    start_ns: AtomicU64,
    end_ns: AtomicU64,
}

impl Window {
    pub fn new(epoch: Instant) -> Window {
        Window {
            epoch,
            start_ns: AtomicU64::new(u64::MAX),
            end_ns: AtomicU64::new(u64::MAX),
        }
    }

    pub fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    pub fn open(&self, t: Instant) {
        self.start_ns.store(self.ns(t), Ordering::Relaxed);
    }

    pub fn close(&self, t: Instant) {
        self.end_ns.store(self.ns(t), Ordering::Relaxed);
    }

    pub fn contains_ns(&self, ns: u64) -> bool {
        ns >= self.start_ns.load(Ordering::Relaxed) && ns < self.end_ns.load(Ordering::Relaxed)
    }
}

/// Latency histogram in microseconds: 1 µs steps below 1 ms, 10 µs below
/// 10 ms, 100 µs below 100 ms, 1 ms up to 10 s.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    pub max_us: u64,
    pub total: u64,
}

const BUCKETS: usize = 1000 + 900 + 900 + 9900 + 1;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            max_us: 0,
            total: 0,
        }
    }
}

impl Histogram {
    fn bucket(us: u64) -> usize {
        (match us {
            0..1000 => us,
            1000..10_000 => 1000 + (us - 1000) / 10,
            10_000..100_000 => 1900 + (us - 10_000) / 100,
            100_000..10_000_000 => 2800 + (us - 100_000) / 1000,
            _ => BUCKETS as u64 - 1,
        }) as usize
    }

    /// The upper edge of a bucket, in µs.
    fn upper(index: usize) -> u64 {
        let i = index as u64;
        match index {
            0..1000 => i + 1,
            1000..1900 => 1000 + (i - 999) * 10,
            1900..2800 => 10_000 + (i - 1899) * 100,
            _ => 100_000 + (i - 2799) * 1000,
        }
    }

    pub fn add(&mut self, us: u64) {
        self.counts[Self::bucket(us)] += 1;
        self.max_us = self.max_us.max(us);
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max_us = self.max_us.max(other.max_us);
        self.total += other.total;
    }

    /// The value below which `q` (0..1) of the samples lie, in µs.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::upper(i).min(self.max_us));
            }
        }
        Some(self.max_us)
    }
}

/// One publisher track as seen by one receiver: which counters arrived.
#[derive(Default)]
struct TrackRx {
    base: Option<u32>,
    seen: Vec<u64>,
    unique: u64,
    duplicates: u64,
}

impl TrackRx {
    fn mark(&mut self, counter: u32) {
        let base = *self.base.get_or_insert(counter);
        let Some(offset) = counter.checked_sub(base) else {
            // Older than the first one seen: count it, cannot dedupe.
            self.unique += 1;
            return;
        };
        let (word, bit) = ((offset / 64) as usize, offset % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicates += 1;
        } else {
            self.seen[word] |= 1 << bit;
            self.unique += 1;
        }
    }
}

/// What one participant received.
#[derive(Default)]
pub struct RxStats {
    /// (publisher, kind) → counters seen, for packets sent inside the window.
    tracks: HashMap<(u32, Kind), TrackRx>,
    pub latency: Histogram,
    /// First stamped RTP packet from anyone (for the join time).
    pub first_rtp: Option<Instant>,
    pub unstamped: u64,
}

impl RxStats {
    pub fn record(&mut self, window: &Window, stamp: &Stamp, arrived: Instant) {
        self.first_rtp.get_or_insert(arrived);
        if !window.contains_ns(stamp.sent_ns) {
            return;
        }
        let t = self
            .tracks
            .entry((stamp.participant, stamp.kind))
            .or_default();
        t.mark(stamp.counter);
        let latency_ns = window.ns(arrived).saturating_sub(stamp.sent_ns);
        self.latency.add(latency_ns / 1000);
    }

    /// Unique packets received (sent in the window), duplicates.
    pub fn totals(&self) -> (u64, u64) {
        self.tracks
            .values()
            .fold((0, 0), |(u, d), t| (u + t.unique, d + t.duplicates))
    }

    /// Unique packets received from one publisher's track.
    pub fn from(&self, publisher: u32, kind: Kind) -> u64 {
        self.tracks.get(&(publisher, kind)).map_or(0, |t| t.unique)
    }
}

/// What one participant sent inside the window.
#[derive(Default, Clone, Copy)]
pub struct TxStats {
    pub audio: u64,
    pub video: u64,
    pub plis: u64,
    pub firs: u64,
    pub send_errors: u64,
}
