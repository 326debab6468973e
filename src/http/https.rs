//! Serving the router over a connection someone else accepted (the HTTPS
//! listener hands over decrypted streams), and HSTS.

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tower::ServiceExt;

/// A client gets this long to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// HSTS for a year. Sent only while the certificate in service is trusted
/// by browsers: with a self-signed one it would lock visitors out.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Serves `router` (HTTP/1.1 or HTTP/2, with WebSocket upgrades) on one
/// connection until it closes. `peer` is what `ConnectInfo` yields.
pub async fn serve_connection<IO>(io: IO, peer: SocketAddr, router: Router)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let connection =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
    if let Err(e) = connection.await {
        tracing::debug!("HTTPS connection ended: {e}");
    }
}

/// Adds `Strict-Transport-Security` to every response while `trusted()`.
pub fn with_hsts<F>(router: Router, trusted: F) -> Router
where
    F: Fn() -> bool + Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::map_response(
        move |mut response: Response| {
            let trusted = trusted.clone();
            async move {
                if trusted() {
                    response.headers_mut().insert(
                        header::STRICT_TRANSPORT_SECURITY,
                        HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
                    );
                }
                response
            }
        },
    ))
}
