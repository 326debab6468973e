//! funkraum's own measure of the latency it adds: the histogram
//! `funkraum_media_forwarding_latency_seconds` of its `/metrics` (kernel
//! receive timestamp of an RTP datagram → end of the send of what was
//! forwarded with it), read at both edges of the window.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const NAME: &str = "funkraum_media_forwarding_latency_seconds_bucket{le=\"";

/// Cumulative (upper bound in seconds, count) pairs, `+Inf` last.
pub type Buckets = Vec<(f64, u64)>;

/// The histogram from `http://{addr}/metrics`; `None` if unreadable.
pub fn read(addr: &str) -> Option<Buckets> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let buckets: Buckets = text
        .lines()
        .filter_map(|l| l.strip_prefix(NAME))
        .filter_map(|l| {
            let (le, n) = l.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, n.trim().parse().ok()?))
        })
        .collect();
    (!buckets.is_empty()).then_some(buckets)
}

/// The `q` quantile in milliseconds of what was counted between `start`
/// and `end`, interpolated linearly inside its bucket (`None`: nothing
/// counted, or it lies above the last finite bound).
pub fn quantile(start: &Buckets, end: &Buckets, q: f64) -> Option<f64> {
    let counts: Vec<(f64, u64)> = end
        .iter()
        .zip(start)
        .map(|(e, s)| (e.0, e.1.saturating_sub(s.1)))
        .collect();
    let total = counts.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let (mut lower, mut below) = (0.0, 0u64);
    for &(bound, cumulative) in &counts {
        if cumulative as f64 >= rank {
            if bound.is_infinite() {
                return None;
            }
            let inside = (cumulative - below) as f64;
            let share = if inside > 0.0 {
                (rank - below as f64) / inside
            } else {
                1.0
            };
            return Some((lower + (bound - lower) * share) * 1000.0);
        }
        (lower, below) = (bound, cumulative);
    }
    None
}
