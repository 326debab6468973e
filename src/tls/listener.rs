//! The HTTPS accept loop, and the seam where a decrypted connection is
//! handed on.
//!
//! ```text
//! TcpListener ─accept─▶ TLS handshake (rustls, CertStore picks the cert)
//!                          │ acme-tls/1 ─▶ closed (the handshake was the answer)
//!                          ▼
//!               ConnectionHandler::handle(TlsConnection)     ◀── the seam
//!                          │ e.g. sniff() the first bytes
//!                          ├─ Http ─▶ hyper-util + axum router
//!                          └─ Stun ─▶ TURN server (TURN over TLS on 443)
//! ```
//!
//! This module knows TLS, not what is spoken inside it. The composition
//! root (`server.rs`) implements [`ConnectionHandler`] and decides per
//! connection; [`sniff`] tells HTTP from STUN/TURN by the first bytes the
//! client sends (both protocols speak first), and [`Rewind`] gives those
//! bytes back, so whoever gets the stream reads it from its beginning.

use super::store::ACME_TLS_ALPN;
use crate::privacy::PeerAddr;
use rustls::ServerConfig;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// ALPN protocol id of TURN over TLS (RFC 7443).
pub const STUN_TURN_ALPN: &[u8] = b"stun.turn";

/// A client gets this long for its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection whose TLS handshake has succeeded.
pub struct TlsConnection {
    pub stream: tokio_rustls::server::TlsStream<TcpStream>,
    pub peer: PeerAddr,
    /// The address the connection was accepted on.
    pub local: std::net::SocketAddr,
    /// The ALPN protocol agreed in the handshake (`h2`, `http/1.1`,
    /// `stun.turn`), if the client asked for one.
    pub alpn: Option<Vec<u8>>,
}

/// What happens to a connection after its TLS handshake. Called once per
/// connection, in the connection's own task; the future may run as long as
/// the connection lives.
pub trait ConnectionHandler: Send + Sync + 'static {
    fn handle(&self, connection: TlsConnection) -> impl Future<Output = ()> + Send;
}

/// Accepts TLS connections on `listener` until `shutdown` turns true; the
/// connections' tasks end with the loop.
pub async fn serve<H: ConnectionHandler>(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handler: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(config);
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut shutdown) => break,
            // Reap finished connection tasks as we go.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: pause, go on.
                tracing::warn!("HTTPS accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = PeerAddr::new(peer);
        let Ok(local) = tcp.local_addr() else {
            continue;
        };
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        connections.spawn(async move {
            let _ = tcp.set_nodelay(true);
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            if alpn.as_deref() == Some(ACME_TLS_ALPN) {
                // TLS-ALPN-01: the CA has seen the challenge certificate;
                // nothing is spoken on such a connection (RFC 8737 §3).
                tracing::debug!("answered an ACME TLS-ALPN-01 validation");
                return;
            }
            handler
                .handle(TlsConnection {
                    stream,
                    peer,
                    local,
                    alpn,
                })
                .await;
        });
    }
}

/// Resolves once `shutdown` is true or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// What a client's first bytes say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstBytes {
    /// An HTTP/1 request line or the HTTP/2 preface.
    Http,
    /// A STUN message (RFC 8489 §5: two zero bits, then the magic cookie at
    /// bytes 4–7), as a TURN client over TLS sends first.
    Stun,
    /// Neither.
    Other,
}

/// The magic cookie at bytes 4..8 of every STUN message.
const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// Classifies the start of a stream. `None`: too few bytes to tell yet.
pub fn classify(first: &[u8]) -> Option<FirstBytes> {
    let &b0 = first.first()?;
    if b0.is_ascii_uppercase() {
        // GET, POST, …, and "PRI * HTTP/2.0" (the HTTP/2 preface).
        return Some(FirstBytes::Http);
    }
    if b0 & 0xC0 != 0 {
        return Some(FirstBytes::Other);
    }
    if first.len() < 8 {
        return None;
    }
    Some(if first[4..8] == STUN_MAGIC_COOKIE {
        FirstBytes::Stun
    } else {
        FirstBytes::Other
    })
}

/// Reads the first bytes of `stream` (waiting at most `timeout` for them)
/// and says what they are; the returned stream still yields them.
pub async fn sniff<S: AsyncRead + Unpin>(
    mut stream: S,
    timeout: Duration,
) -> io::Result<(FirstBytes, Rewind<S>)> {
    let mut first = Vec::with_capacity(16);
    let kind = tokio::time::timeout(timeout, async {
        loop {
            if let Some(kind) = classify(&first) {
                return Ok(kind);
            }
            let mut byte_buf = [0u8; 16];
            let want = 8usize.saturating_sub(first.len()).max(1);
            let n = stream.read(&mut byte_buf[..want]).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            first.extend_from_slice(&byte_buf[..n]);
        }
    })
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    Ok((kind, Rewind::new(first, stream)))
}

/// A stream that first yields `prefix` (bytes already read from `inner`),
/// then reads from `inner`. Writes go straight to `inner`.
pub struct Rewind<S> {
    prefix: Vec<u8>,
    offset: usize,
    inner: S,
}

impl<S> Rewind<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Rewind<S> {
        Rewind {
            prefix,
            offset: 0,
            inner,
        }
    }

    /// The underlying stream, and the prefix bytes not yet read.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        let rest = self.prefix[self.offset..].to_vec();
        (self.inner, rest)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.offset < this.prefix.len() {
            let rest = &this.prefix[this.offset..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.offset += n;
            if this.offset == this.prefix.len() {
                this.prefix = Vec::new();
                this.offset = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn tells_http_from_stun() {
        assert_eq!(classify(b""), None);
        assert_eq!(classify(b"G"), Some(FirstBytes::Http));
        assert_eq!(classify(b"PRI * HTTP/2.0\r\n"), Some(FirstBytes::Http));
        // A STUN Allocate request: type 0x0003, length 0, magic cookie.
        let allocate = [0x00, 0x03, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3];
        assert_eq!(classify(&allocate[..4]), None);
        assert_eq!(classify(&allocate), Some(FirstBytes::Stun));
        assert_eq!(
            classify(&[0x00, 0x01, 0, 0, 1, 2, 3, 4]),
            Some(FirstBytes::Other)
        );
        assert_eq!(classify(&[0x16, 0x03, 0x01]), None);
        let tls_record = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01];
        assert_eq!(classify(&tls_record), Some(FirstBytes::Other));
        assert_eq!(classify(&[0xFF]), Some(FirstBytes::Other));
    }

    #[tokio::test]
    async fn sniffed_bytes_are_read_again() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"\x00\x01\x00\x00").await.unwrap();
        let sniffing = tokio::spawn(sniff(server, Duration::from_secs(5)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        client
            .write_all(b"\x21\x12\xA4\x42rest of it")
            .await
            .unwrap();
        drop(client);
        let (kind, mut stream) = sniffing.await.unwrap().unwrap();
        assert_eq!(kind, FirstBytes::Stun);
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"\x00\x01\x00\x00\x21\x12\xA4\x42rest of it");
    }

    #[tokio::test]
    async fn silent_client_times_out() {
        let (_client, server) = tokio::io::duplex(64);
        let e = sniff(server, Duration::from_millis(20))
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
