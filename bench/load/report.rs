//! The figures of a run: computed from the participants' outcomes and the
//! /proc readings, printed as a table, written as JSON, and compared across
//! runs (`summarize`).

use crate::RunResult;
use crate::media::Kind;
use crate::stats::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

/// The numbers a run is judged by.
struct Figures {
    joined: usize,
    errors: Vec<(u32, String)>,
    expected: u64,
    unique: u64,
    duplicates: u64,
    egress_pps: f64,
    loss: f64,
    server_cpu_s: f64,
    /// Seconds the server's threads waited for a CPU (the generator runs
    /// on the same cores), and how often they were put on one.
    server_run_wait_s: f64,
    server_timeslices: u64,
    egress_per_cpu_s: f64,
    latency: Histogram,
    join_ms: Vec<f64>,
    never_received: usize,
    rss_idle_kib: u64,
    rss_end_kib: u64,
    rss_per_participant_kib: f64,
    udp_in_errors: u64,
    udp_rcvbuf_errors: u64,
    generator_cpu: f64,
    keyframe_requests: u64,
    send_errors: u64,
    /// Receivers that got nothing at all from a publisher in the window.
    dead_tracks: u64,
}

fn figures(r: &RunResult) -> Figures {
    let per_room = r.publishers + r.receivers;
    let others = per_room.saturating_sub(1) as u64;
    let total = (per_room * r.rooms) as usize;
    let mut f = Figures {
        joined: r.outcomes.iter().filter(|o| o.ws_open.is_some()).count(),
        errors: r
            .outcomes
            .iter()
            .filter_map(|o| o.error.clone().map(|e| (o.index, e)))
            .collect(),
        expected: 0,
        unique: 0,
        duplicates: 0,
        egress_pps: 0.0,
        loss: 0.0,
        server_cpu_s: r.end.server_cpu - r.start.server_cpu,
        server_run_wait_s: r
            .end
            .server_run_wait_ns
            .saturating_sub(r.start.server_run_wait_ns) as f64
            / 1e9,
        server_timeslices: r
            .end
            .server_timeslices
            .saturating_sub(r.start.server_timeslices),
        egress_per_cpu_s: 0.0,
        latency: Histogram::default(),
        join_ms: Vec::new(),
        never_received: 0,
        rss_idle_kib: r.idle.server_rss_kib,
        rss_end_kib: r.end.server_rss_kib,
        rss_per_participant_kib: 0.0,
        udp_in_errors: r.end.udp_in_errors.saturating_sub(r.start.udp_in_errors),
        udp_rcvbuf_errors: r
            .end
            .udp_rcvbuf_errors
            .saturating_sub(r.start.udp_rcvbuf_errors),
        generator_cpu: (r.end.own_cpu - r.start.own_cpu) / r.window_s,
        keyframe_requests: 0,
        send_errors: 0,
        dead_tracks: 0,
    };
    for o in &r.outcomes {
        let (u, d) = o.rx.totals();
        f.unique += u;
        f.duplicates += d;
        f.latency.merge(&o.rx.latency);
        f.keyframe_requests += o.tx.plis + o.tx.firs;
        f.send_errors += o.tx.send_errors;
        if o.publishes {
            f.expected += (o.tx.audio + o.tx.video) * others;
        }
        let hears_someone = r.publishers > 1 || !o.publishes;
        if hears_someone {
            match (o.ws_open, o.rx.first_rtp) {
                (Some(open), Some(first)) => {
                    f.join_ms.push((first - open).as_secs_f64() * 1000.0);
                }
                _ => f.never_received += 1,
            }
        }
        // Every publisher of the room should reach this participant.
        for p in r
            .outcomes
            .iter()
            .filter(|p| p.room == o.room && p.publishes)
        {
            if p.index == o.index {
                continue;
            }
            let kinds = [(Kind::Audio, p.tx.audio), (Kind::Video, p.tx.video)];
            for (kind, sent) in kinds {
                if sent > 0 && o.rx.from(p.index, kind) == 0 {
                    f.dead_tracks += 1;
                }
            }
        }
    }
    f.join_ms.sort_by(f64::total_cmp);
    let received = f.unique + f.duplicates;
    f.egress_pps = received as f64 / r.window_s;
    if f.expected > 0 {
        f.loss = 1.0 - f.unique as f64 / f.expected as f64;
    }
    if f.server_cpu_s > 0.0 {
        f.egress_per_cpu_s = received as f64 / f.server_cpu_s;
    }
    if total > 0 {
        f.rss_per_participant_kib =
            f.rss_end_kib.saturating_sub(f.rss_idle_kib) as f64 / total as f64;
    }
    f
}

fn pct(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64) * q).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn ms(us: Option<u64>) -> Value {
    us.map_or(Value::Null, |u| json!(u as f64 / 1000.0))
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

fn scenario(r: &RunResult) -> String {
    let receivers = if r.receivers == 0 {
        r.publishers
    } else {
        r.receivers
    };
    let mut s = format!("{}x{}", r.publishers, receivers);
    if r.rooms > 1 {
        s = format!("{}x{s}", r.rooms);
    }
    if !r.video {
        s.push_str("-audio");
    } else if r.video_kbps != 1500 {
        s.push_str(&format!("-{}k", r.video_kbps));
    }
    s
}

/// funkraum's own forwarding latency over the window (`null` for Janus).
fn server_latency(r: &RunResult) -> Value {
    let Some((start, end)) = &r.server_latency else {
        return Value::Null;
    };
    let q = |q| opt(crate::server_latency::quantile(start, end, q));
    json!({ "p50": q(0.5), "p90": q(0.9), "p99": q(0.99) })
}

pub fn json(r: &RunResult) -> Value {
    let f = figures(r);
    json!({
        "label": r.label,
        "target": r.target,
        "scenario": scenario(r),
        "round": r.round,
        "publishers_per_room": r.publishers,
        "receivers_per_room": r.receivers,
        "rooms": r.rooms,
        "video": r.video,
        "video_kbps": r.video_kbps,
        "window_s": r.window_s,
        "generator_nice": r.generator_nice,
        "participants": r.publishers * r.rooms + r.receivers * r.rooms,
        "joined": f.joined,
        "errors": f.errors.len(),
        "first_errors": f.errors.iter().take(5).map(|(i, e)| format!("{i}: {e}")).collect::<Vec<_>>(),
        "missing": r.missing,
        "expected_packets": f.expected,
        "received_unique": f.unique,
        "received_duplicates": f.duplicates,
        "dead_tracks": f.dead_tracks,
        "egress_pps": f.egress_pps,
        "loss": f.loss,
        "server_cpu_s": f.server_cpu_s,
        "server_cpu_share": f.server_cpu_s / r.window_s,
        "egress_per_cpu_s": f.egress_per_cpu_s,
        "server_run_queue": {
            "wait_ms_per_s": f.server_run_wait_s * 1000.0 / r.window_s,
            "timeslices_per_s": f.server_timeslices as f64 / r.window_s,
            "wait_us_per_timeslice": (f.server_timeslices > 0)
                .then(|| f.server_run_wait_s * 1e6 / f.server_timeslices as f64),
        },
        "latency_ms": {
            "p50": ms(f.latency.quantile(0.5)),
            "p90": ms(f.latency.quantile(0.9)),
            "p99": ms(f.latency.quantile(0.99)),
            "max": ms((f.latency.total > 0).then_some(f.latency.max_us)),
        },
        "server_latency_ms": server_latency(r),
        "join_ms": {
            "p50": opt(pct(&f.join_ms, 0.5)),
            "p95": opt(pct(&f.join_ms, 0.95)),
            "max": opt(f.join_ms.last().copied()),
            "never": f.never_received,
        },
        "rss_kib": {
            "idle": f.rss_idle_kib,
            "window_start": r.start.server_rss_kib,
            "end": f.rss_end_kib,
            "per_participant": f.rss_per_participant_kib,
        },
        "udp_in_errors": f.udp_in_errors,
        "udp_rcvbuf_errors": f.udp_rcvbuf_errors,
        "generator_cpu_share": f.generator_cpu,
        "keyframe_requests": f.keyframe_requests,
        "client_send_errors": f.send_errors,
    })
}

pub fn table(r: &RunResult) -> String {
    let v = json(r);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "run {} ({}, round {}): {} participants in {} room(s), window {:.1} s",
        v["label"], v["scenario"], r.round, v["participants"], r.rooms, r.window_s
    );
    let mut row = |name: &str, value: String| {
        let _ = writeln!(t, "  {name:<34} {value}");
    };
    let f = |x: &Value| x.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    row(
        "joined / errors / unfinished",
        format!("{} / {} / {}", v["joined"], v["errors"], v["missing"]),
    );
    row(
        "egress RTP packets/s",
        format!("{:.0}", v["egress_pps"].as_f64().unwrap_or(0.0)),
    );
    row(
        "loss (of expected)",
        format!(
            "{:.3} % ({} of {} expected; {} duplicates; {} dead tracks)",
            v["loss"].as_f64().unwrap_or(0.0) * 100.0,
            v["expected_packets"].as_u64().unwrap_or(0)
                - v["received_unique"]
                    .as_u64()
                    .unwrap_or(0)
                    .min(v["expected_packets"].as_u64().unwrap_or(0)),
            v["expected_packets"],
            v["received_duplicates"],
            v["dead_tracks"]
        ),
    );
    row(
        "server CPU (user+system)",
        format!(
            "{:.2} s = {:.0} % of one core",
            v["server_cpu_s"].as_f64().unwrap_or(0.0),
            v["server_cpu_share"].as_f64().unwrap_or(0.0) * 100.0
        ),
    );
    row(
        "egress packets per server CPU-s",
        format!("{:.0}", v["egress_per_cpu_s"].as_f64().unwrap_or(0.0)),
    );
    let q = &v["server_run_queue"];
    row(
        "server waiting for a CPU",
        format!(
            "{:.0} ms/s ({:.0} times/s on a CPU, {} µs wait each)",
            q["wait_ms_per_s"].as_f64().unwrap_or(0.0),
            q["timeslices_per_s"].as_f64().unwrap_or(0.0),
            q["wait_us_per_timeslice"]
                .as_f64()
                .map_or("-".to_string(), |x| format!("{x:.0}"))
        ),
    );
    let l = &v["latency_ms"];
    row(
        "latency ms p50 / p90 / p99 / max",
        format!(
            "{} / {} / {} / {}",
            f(&l["p50"]),
            f(&l["p90"]),
            f(&l["p99"]),
            f(&l["max"])
        ),
    );
    let s = &v["server_latency_ms"];
    if !s.is_null() {
        row(
            "in-server latency ms p50 / p90 / p99",
            format!("{} / {} / {}", f(&s["p50"]), f(&s["p90"]), f(&s["p99"])),
        );
    }
    let j = &v["join_ms"];
    row(
        "join ms p50 / p95 / max (never)",
        format!(
            "{} / {} / {} ({})",
            f(&j["p50"]),
            f(&j["p95"]),
            f(&j["max"]),
            j["never"]
        ),
    );
    let m = &v["rss_kib"];
    row(
        "server RSS KiB idle / end / per pt",
        format!(
            "{} / {} / {}",
            m["idle"],
            m["end"],
            f(&m["per_participant"])
        ),
    );
    row(
        "UDP InErrors / RcvbufErrors",
        format!("{} / {}", v["udp_in_errors"], v["udp_rcvbuf_errors"]),
    );
    row(
        "generator CPU (cores)",
        format!(
            "{:.2}{}",
            v["generator_cpu_share"].as_f64().unwrap_or(0.0),
            v["generator_nice"]
                .as_i64()
                .map_or(String::new(), |n| format!(" (nice {n})"))
        ),
    );
    row(
        "keyframe requests seen",
        format!("{}", v["keyframe_requests"]),
    );
    if std::env::var_os("LOAD_DEBUG").is_some() {
        for o in &r.outcomes {
            let (u, d) = o.rx.totals();
            let join = match (o.ws_open, o.rx.first_rtp) {
                (Some(a), Some(b)) => format!("{:.0} ms", (b - a).as_secs_f64() * 1000.0),
                _ => "-".into(),
            };
            row(
                &format!("participant {} room {}", o.index, o.room),
                format!(
                    "publishes {} sent a/v {}/{} received {u} (+{d} dup) join {join} {}",
                    o.publishes,
                    o.tx.audio,
                    o.tx.video,
                    o.error.as_deref().unwrap_or("")
                ),
            );
        }
    }
    for e in v["first_errors"].as_array().into_iter().flatten() {
        row("error", e.as_str().unwrap_or("").to_string());
    }
    t
}

/// The figures compared across runs, with how to read them from the JSON.
const METRICS: &[(&str, &str, f64)] = &[
    ("egress packets/s", "/egress_pps", 1.0),
    ("server CPU share (cores)", "/server_cpu_share", 1.0),
    ("egress packets per CPU-s", "/egress_per_cpu_s", 1.0),
    ("loss %", "/loss", 100.0),
    ("latency p50 ms", "/latency_ms/p50", 1.0),
    ("latency p99 ms", "/latency_ms/p99", 1.0),
    ("latency max ms", "/latency_ms/max", 1.0),
    ("in-server latency p50 ms", "/server_latency_ms/p50", 1.0),
    ("in-server latency p99 ms", "/server_latency_ms/p99", 1.0),
    (
        "server waiting for a CPU ms/s",
        "/server_run_queue/wait_ms_per_s",
        1.0,
    ),
    ("join p50 ms", "/join_ms/p50", 1.0),
    ("join p95 ms", "/join_ms/p95", 1.0),
    (
        "RSS growth KiB/participant",
        "/rss_kib/per_participant",
        1.0,
    ),
    ("UDP RcvbufErrors", "/udp_rcvbuf_errors", 1.0),
    ("generator CPU (cores)", "/generator_cpu_share", 1.0),
];

fn spread(mut xs: Vec<f64>) -> Option<(f64, f64, f64)> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    Some((xs[0], median, xs[n - 1]))
}

fn show(s: Option<(f64, f64, f64)>) -> String {
    let n = |x: f64| {
        if x.abs() >= 1000.0 {
            format!("{x:.0}")
        } else if x.abs() >= 10.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.3}")
        }
    };
    match s {
        Some((lo, med, hi)) => format!("{} [{}..{}]", n(med), n(lo), n(hi)),
        None => "-".into(),
    }
}

/// Compares runs: per scenario and figure, funkraum's and Janus' median
/// [min..max] over rounds, and the ratio funkraum/Janus of runs of the same
/// round (each round ran both servers back to back).
pub fn summarize(files: &[PathBuf]) -> Result<String, String> {
    let mut runs: Vec<Value> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        runs.push(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    // scenario → round → target → run
    let mut by: BTreeMap<String, BTreeMap<u64, BTreeMap<String, &Value>>> = BTreeMap::new();
    for r in &runs {
        by.entry(r["scenario"].as_str().unwrap_or("?").to_string())
            .or_default()
            .entry(r["round"].as_u64().unwrap_or(0))
            .or_default()
            .insert(r["target"].as_str().unwrap_or("?").to_string(), r);
    }
    let mut out = String::new();
    for (scenario, rounds) in &by {
        let _ = writeln!(
            out,
            "\nscenario {scenario}: {} round(s); median [min..max]",
            rounds.len()
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>26} {:>26} {:>24}",
            "figure", "funkraum", "janus", "ratio funkraum/janus"
        );
        for (name, pointer, scale) in METRICS {
            let value = |r: &Value| {
                r.pointer(pointer)
                    .and_then(Value::as_f64)
                    .map(|x| x * scale)
            };
            let of = |target: &str| -> Vec<f64> {
                rounds
                    .values()
                    .filter_map(|t| t.get(target).and_then(|r| value(r)))
                    .collect()
            };
            let ratios: Vec<f64> = rounds
                .values()
                .filter_map(|t| {
                    let a = value(t.get("funkraum")?)?;
                    let b = value(t.get("janus")?)?;
                    (b != 0.0).then_some(a / b)
                })
                .collect();
            let _ = writeln!(
                out,
                "  {:<28} {:>26} {:>26} {:>24}",
                name,
                show(spread(of("funkraum"))),
                show(spread(of("janus"))),
                show(spread(ratios))
            );
        }
        let errors: u64 = rounds
            .values()
            .flat_map(|t| t.values())
            .map(|r| r["errors"].as_u64().unwrap_or(0) + r["dead_tracks"].as_u64().unwrap_or(0))
            .sum();
        if errors > 0 {
            let _ = writeln!(
                out,
                "  note: {errors} participant errors or dead tracks in these runs (see the JSON files)"
            );
        }
    }
    Ok(out)
}
