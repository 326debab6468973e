//! Heap allocations and CPU time per forwarded RTP packet in steady state
//! (docs/performance.md).
//!
//!   cargo bench --bench alloc                # 10 publishers, 6 packets/frame
//!   cargo bench --bench alloc -- 25 2        # participants, packets per frame
//!   cargo bench --bench alloc -- 10 2 20     # … and seconds per measured span
//!   cargo bench --bench alloc -- 25 2 10 1   # … and milliseconds per batch
//!
//! A room of simulated str0m participants (`funkraum::sfu::rig`) runs
//! around the sans-IO core in simulated time; every participant publishes
//! audio and video and receives everyone else. After a warm-up of 12 s (ICE,
//! DTLS, negotiation, the first keyframes, the first consent checks, buffers
//! grown to their steady size)
//! the global allocator counts the allocations made inside the core's calls
//! (the clients' own work is left out) over a measured span, divided by
//! the RTP packets the core forwarded in it; a second span counts
//! reallocations (a buffer grown) the same way. A third span counts the
//! thread's CPU time inside the same calls the same way: the core's cost per
//! forwarded packet without the kernel's (a figure for A/B comparisons of
//! the core on a noisy machine; each reading is a syscall of its own, the
//! same in A and B). The media thread's socket
//! I/O (`recvmmsg`/`sendmmsg` into buffers that are kept) is not part of
//! the rig and allocates nothing per packet.

use nix::time::{ClockId, clock_gettime};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;
use std::time::Duration;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let participants: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let packets_per_frame: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(6);
    // A longer span than the default 10 s: run under a heap profiler twice
    // with two lengths, and what differs per allocation site is what the
    // steady state allocates there (the joins and warm-up are the same).
    let measured_secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    // The core gets the clients' datagrams in batches of this many
    // milliseconds (5 by default; the media thread under load: about 1).
    let step_ms: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    let count = || GLOBAL.stats().allocations as u64;

    let mut rig = funkraum::sfu::rig::Rig::new(participants, packets_per_frame);
    rig.set_step(Duration::from_millis(step_ms));
    // Warm-up: connect, negotiate, first keyframes, then until every
    // kept buffer has been used once: the last are those of the first
    // STUN consent checks answered, a few seconds after the connection is
    // up (6 s of warm-up left one allocation per participant in the
    // measured span).
    rig.run(Duration::from_secs(12), &count);
    let forwarded_before = rig.forwarded();
    let measured = Duration::from_secs(measured_secs);
    let allocations = rig.run(measured, &count);
    let forwarded = rig.forwarded() - forwarded_before;
    let expected = participants
        * (participants - 1)
        * (50 + 30 * packets_per_frame)
        * measured.as_secs() as usize;
    println!(
        "{participants} participants, {packets_per_frame} video packets per frame, \
         {}s of simulated time in batches of {step_ms} ms",
        measured.as_secs()
    );
    println!("forwarded RTP packets: {forwarded} (expected {expected})");
    println!("heap allocations inside the SFU core: {allocations}");
    if forwarded == 0 {
        println!("nothing was forwarded: the rig did not reach steady state");
        std::process::exit(1);
    }
    println!(
        "allocations per forwarded packet: {:.5}",
        allocations as f64 / forwarded as f64
    );
    // A growing `Vec` or `VecDeque` reallocates: a heap operation too,
    // counted apart by the allocator, so measured over a span of its own.
    let reallocations = || GLOBAL.stats().reallocations as u64;
    let forwarded_before = rig.forwarded();
    let grown = rig.run(measured, &reallocations);
    let forwarded = rig.forwarded() - forwarded_before;
    println!(
        "reallocations per forwarded packet: {:.5} ({grown} inside the SFU core)",
        grown as f64 / forwarded as f64
    );
    let cpu_nanos = || {
        let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    };
    let forwarded_before = rig.forwarded();
    let nanos = rig.run(measured, &cpu_nanos);
    let forwarded = rig.forwarded() - forwarded_before;
    println!(
        "CPU time inside the SFU core per forwarded packet: {:.0} ns \
         ({forwarded} packets per {:.3} CPU-s: {:.0} per CPU-second)",
        nanos as f64 / forwarded as f64,
        nanos as f64 / 1e9,
        forwarded as f64 * 1e9 / nanos as f64
    );
}
