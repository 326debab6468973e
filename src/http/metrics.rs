//! `/metrics` in the Prometheus text format: counts only, nothing personal,
//! and only for clients on this machine (a scraper runs beside the daemon or
//! reaches it through an SSH tunnel).

use super::HttpState;
use crate::sfu::SfuStats;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub async fn metrics(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !peer.ip().to_canonical().is_loopback() {
        return (StatusCode::NOT_FOUND, "Not found.\n").into_response();
    }
    let (rooms, participants) = state.hub.counts();
    let s: &SfuStats = &state.stats;
    let mut out = String::new();
    // (name, type, help, value) of each single-valued series.
    let series: [(&str, &str, &str, u64); 11] = [
        ("rooms", "gauge", "Rooms open now.", rooms as u64),
        (
            "participants",
            "gauge",
            "Participants in rooms now.",
            participants as u64,
        ),
        (
            "media_sessions",
            "gauge",
            "Participants with a media session in the SFU.",
            SfuStats::get(&s.participants),
        ),
        (
            "rtp_packets_received_total",
            "counter",
            "RTP packets received from publishers.",
            SfuStats::get(&s.rtp_packets_in),
        ),
        (
            "rtp_packets_forwarded_total",
            "counter",
            "RTP packets forwarded to subscribers.",
            SfuStats::get(&s.rtp_packets_out),
        ),
        (
            "media_sessions_failed_total",
            "counter",
            "Media sessions the server ended because they failed.",
            SfuStats::get(&s.participants_failed),
        ),
        (
            "media_datagrams_handed_over_total",
            "counter",
            "Datagrams a media thread received for a room on another media thread and handed over.",
            SfuStats::get(&s.datagrams_handed_over),
        ),
        (
            "media_handover_dropped_total",
            "counter",
            "Of those, datagrams dropped because the other media thread's queue was full.",
            SfuStats::get(&s.handover_dropped),
        ),
        (
            "media_gso_datagrams_total",
            "counter",
            "Datagrams sent in groups with UDP segmentation offload (a video frame's packets to one subscriber).",
            SfuStats::get(&s.gso_datagrams),
        ),
        (
            "media_gso_refused_total",
            "counter",
            "Groups the kernel refused to send with UDP segmentation offload (a route's MTU below the datagram size); sent one by one instead.",
            SfuStats::get(&s.gso_refused),
        ),
        (
            "log_events_withheld_total",
            "counter",
            "Log events below ERROR withheld because they named personal data.",
            state.log_counters.withheld.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP funkraum_{name} {help}");
        let _ = writeln!(out, "# TYPE funkraum_{name} {kind}");
        let _ = writeln!(out, "funkraum_{name} {value}");
    }
    // Added latency: kernel receive timestamp to the end of the send.
    let latency = &s.forwarding_latency;
    let name = "funkraum_media_forwarding_latency_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} From the kernel's receive timestamp of an RTP datagram to the end of the send of what was forwarded with it."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    let mut count = 0;
    for (bound, n) in latency.cumulative() {
        let le = bound.map_or("+Inf".to_string(), |us| format!("{}", us as f64 / 1e6));
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        count = n;
    }
    let _ = writeln!(out, "{name}_sum {}", latency.sum_us() as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {count}");
    // Per media thread: how the rooms are spread over the cores
    // (`media.threads`); a room's participants are all on one.
    let _ = writeln!(
        out,
        "# HELP funkraum_media_thread_sessions Participants with a media session, per media thread."
    );
    let _ = writeln!(out, "# TYPE funkraum_media_thread_sessions gauge");
    for thread in 0..s.threads() {
        let _ = writeln!(
            out,
            "funkraum_media_thread_sessions{{thread=\"{thread}\"}} {}",
            s.participants.of(thread)
        );
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}
