//! `GET /healthz` answers 200 with a small JSON body for monitoring, and
//! nothing in it (or in its headers) names a room, a nickname, a
//! participant or an address, even while a conference is going on.

mod common;

use common::{TestClient, within};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_200_json_without_personal_data() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let empty = common::http::get(server.http_addr, "/healthz").await;
        assert_eq!(empty.status, 200);

        let room = "geheimerraum";
        let mut a = TestClient::join(server.http_addr, room, "Zyxwvu Geheim").await;
        let b = TestClient::join(server.http_addr, room, "Qponml Privat").await;
        let b_id = b.id.clone();
        a.wait_media_from(
            &b_id,
            common::Kind::Video,
            common::FLOWING,
            common::MEDIA_WITHIN,
        )
        .await;

        let r = common::http::get(server.http_addr, "/healthz").await;
        assert_eq!(r.status, 200);
        let content_type = r.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert!(r.body.len() < 512, "a tiny body: {} bytes", r.body.len());
        let body: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
        assert!(body.is_object(), "{body}");
        eprintln!("/healthz: {body}");

        let whole = format!("{:?}\n{}", r.headers, r.body).to_lowercase();
        let personal = [
            room.to_string(),
            "zyxwvu".into(),
            "geheim".into(),
            "qponml".into(),
            "privat".into(),
            a.id.clone(),
            b_id.clone(),
            "127.0.0.1".into(),
        ];
        for p in &personal {
            assert!(!whole.contains(p.as_str()), "/healthz names {p:?}: {whole}");
        }
        let media_port = server.media_addrs[0].port().to_string();
        assert!(
            !r.body.contains(&media_port),
            "no addresses or ports in the body: {}",
            r.body
        );
        a.shutdown().await;
        b.shutdown().await;
        server.shutdown().await;
    })
    .await;
}
