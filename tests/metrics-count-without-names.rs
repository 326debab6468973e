//! `GET /metrics` (for a Prometheus scraper on the same machine) counts
//! rooms, participants and forwarded packets while a conference runs, and
//! names nobody: no room, nickname, participant id or address.

mod common;

use common::{Kind, TestClient, within};
use std::time::Duration;

fn value(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("funkraum_{name} ")))
        .unwrap_or_else(|| panic!("no funkraum_{name} in\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_conference_and_name_nobody() {
    within(Duration::from_secs(30), async {
        let server = common::server::start_default().await;
        let idle = common::http::get(server.http_addr, "/metrics").await;
        assert_eq!(idle.status, 200);
        assert_eq!(value(&idle.body, "rooms"), 0);

        let room = "zaehlraum-3141";
        let mut a = TestClient::join(server.http_addr, room, "Messbecher Anton").await;
        let b = TestClient::join(server.http_addr, room, "Zollstock Berta").await;
        let b_id = b.id.clone();
        a.wait_media_from(&b_id, Kind::Video, common::FLOWING, common::MEDIA_WITHIN)
            .await;

        let r = common::http::get(server.http_addr, "/metrics").await;
        assert_eq!(r.status, 200);
        assert!(
            r.header("content-type")
                .unwrap_or_default()
                .starts_with("text/plain"),
            "{:?}",
            r.header("content-type")
        );
        assert_eq!(value(&r.body, "rooms"), 1);
        assert_eq!(value(&r.body, "participants"), 2);
        assert!(value(&r.body, "rtp_packets_forwarded_total") >= common::FLOWING);
        assert!(value(&r.body, "rtp_packets_received_total") >= common::FLOWING);
        // The forwarding latency: a histogram whose buckets only grow (its
        // figures are measured in bench/, not asserted here).
        let latency = "media_forwarding_latency_seconds";
        let buckets: Vec<(f64, u64)> = r
            .body
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("funkraum_{latency}_bucket{{le=\"")))
            .map(|l| {
                let (le, n) = l.split_once("\"} ").unwrap();
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                (le, n.parse().unwrap())
            })
            .collect();
        let count = value(&r.body, &format!("{latency}_count"));
        assert!(count >= common::FLOWING, "{count} latencies counted");
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{buckets:?}"
        );
        assert_eq!(buckets.last().map(|b| b.1), Some(count));
        assert!(
            buckets.iter().any(|b| b.0 == 0.002),
            "no 2 ms bound: {buckets:?}"
        );
        for secret in [
            room,
            "Anton",
            "Berta",
            a.id.as_str(),
            b_id.as_str(),
            "127.0.0.1",
        ] {
            assert!(!r.body.contains(secret), "/metrics names {secret:?}");
        }
        // Every series is documented for admins.
        let operating =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operating.md"))
                .expect("docs/operating.md");
        for series in r.body.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
            let name = series.split(' ').next().unwrap_or_default();
            assert!(
                operating.contains(&format!("`{name}")),
                "{name} is not in docs/operating.md"
            );
        }
        a.leave().await;
        b.leave().await;
    })
    .await;
}
