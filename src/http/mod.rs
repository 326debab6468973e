//! The HTTP side: the embedded client, /healthz, and the WebSocket upgrade
//! for signaling. Every response carries the security headers.

mod assets;
mod headers;
mod https;
mod metrics;
pub mod privacy_page;
mod redirect;

pub use https::{STRICT_TRANSPORT_SECURITY, serve_connection, with_hsts};
pub use redirect::redirect_router;

use crate::privacy::PeerAddr;
use crate::sfu::SfuStats;
use crate::signaling::{self, Hub};
use crate::tls::CertStore;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use privacy_page::PrivacyFacts;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the HTTP handlers share.
pub struct HttpState {
    pub hub: Arc<Hub>,
    pub stats: Arc<SfuStats>,
    /// What /privacy states about this instance.
    pub privacy: PrivacyFacts,
    /// What the logging gate withheld, for /metrics.
    pub log_counters: Arc<crate::privacy::logging::LogCounters>,
    /// The certificate in service; `None` while TLS is off.
    pub tls: Option<Arc<CertStore>>,
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/privacy", get(privacy))
        .route("/ws", get(websocket))
        .route("/assets/{*path}", get(asset))
        .route("/{room}", get(room_page))
        .fallback(not_found)
        .layer(axum::middleware::map_response(headers::security_headers))
        .with_state(state)
}

async fn index() -> Response {
    serve_file("index.html")
}

/// Any single path segment is a room; the client checks the name and the
/// server checks it again on join.
async fn room_page(Path(_room): Path<String>) -> Response {
    serve_file("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    serve_file(&path)
}

fn serve_file(path: &str) -> Response {
    match assets::get(path) {
        Some((body, content_type)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => not_found_response(),
    }
}

/// The privacy statement of this instance, in the language asked for by
/// `?lang=` or else by the browser.
async fn privacy(
    State(state): State<Arc<HttpState>>,
    RawQuery(query): RawQuery,
    request_headers: HeaderMap,
) -> Response {
    let accept = request_headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = privacy_page::choose_lang(query.as_deref(), accept);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_LANGUAGE, lang.code()),
            (header::VARY, "Accept-Language"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        privacy_page::render(&state.privacy, lang),
    )
        .into_response()
}

async fn not_found() -> Response {
    not_found_response()
}

fn not_found_response() -> Response {
    (StatusCode::NOT_FOUND, "Not found.\n").into_response()
}

async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    let (rooms, participants) = state.hub.counts();
    let body = serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "rooms": rooms,
        "participants": participants,
        "tls": match &state.tls {
            Some(store) => serde_json::to_value(store.status()).unwrap_or_default(),
            None => serde_json::json!({ "mode": "off" }),
        },
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// Bytes read from a signaling connection at once.
const SIGNALING_READ_CHUNK: usize = 16 * 1024;

async fn websocket(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !same_origin(&request_headers) {
        return (
            StatusCode::FORBIDDEN,
            "Signaling is only for pages of this server.\n",
        )
            .into_response();
    }
    let Some(slot) = state.hub.open_connection(peer.ip()) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many connections from your address.\n",
        )
            .into_response();
    };
    let limit = state.hub.limits.max_message_bytes as usize;
    let hub = state.hub.clone();
    // tungstenite's own cap is set above ours, so a message just over the
    // limit still reaches the connection and gets a proper `too-large`.
    upgrade
        // tungstenite zeroes this much at every read attempt, and it stays
        // resident per connection (128 KiB by default); longer messages
        // are read in several chunks.
        .read_buffer_size(SIGNALING_READ_CHUNK)
        .max_message_size(limit * 2)
        .max_frame_size(limit * 2)
        .on_upgrade(move |socket| signaling::serve(socket, PeerAddr::new(peer), hub, slot))
}

/// Browsers send Origin on WebSocket requests; a page of another site must
/// not drive signaling from a visitor's browser. Clients that are not
/// browsers send none.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    origin_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h), "no Origin: not a browser");
        h.insert(header::HOST, HeaderValue::from_static("meet.example:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://meet.example:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }
}
