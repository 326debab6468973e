//! Plain HTTP while TLS is on (port 80): answers ACME HTTP-01 challenges and
//! redirects everything else to HTTPS. Serves nothing else.

use crate::tls::CertStore;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

struct RedirectState {
    store: Arc<CertStore>,
    /// Port of the HTTPS listener; left out of the URL when it is 443.
    https_port: u16,
}

pub fn redirect_router(store: Arc<CertStore>, https_port: u16) -> Router {
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(redirect)
        .with_state(Arc::new(RedirectState { store, https_port }))
}

async fn challenge(State(state): State<Arc<RedirectState>>, Path(token): Path<String>) -> Response {
    match state.store.http_challenge(&token) {
        Some(key_authorization) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            key_authorization,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "No such challenge.\n").into_response(),
    }
}

async fn redirect(
    State(state): State<Arc<RedirectState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_without_port)
    else {
        return (StatusCode::BAD_REQUEST, "This server speaks HTTPS.\n").into_response();
    };
    let port = match state.https_port {
        443 => String::new(),
        p => format!(":{p}"),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
        "This server speaks HTTPS.\n",
    )
        .into_response()
}

/// The host part of a Host header, if it is a plausible name or address.
fn host_without_port(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') {
        // [v6]:port
        &host[..=host.find(']')?]
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let plausible = !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    plausible.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_is_reduced_to_the_host() {
        assert_eq!(host_without_port("meet.example"), Some("meet.example"));
        assert_eq!(host_without_port("meet.example:80"), Some("meet.example"));
        assert_eq!(host_without_port("[2001:db8::1]:80"), Some("[2001:db8::1]"));
        assert_eq!(host_without_port("[2001:db8::1]"), Some("[2001:db8::1]"));
        assert_eq!(host_without_port("evil/x"), None);
        assert_eq!(host_without_port("a b"), None);
        assert_eq!(host_without_port(""), None);
    }
}
