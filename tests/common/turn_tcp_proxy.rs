//! A UDP → TURN-over-TCP (or over TLS) bridge on loopback, for a client
//! that speaks TURN only over UDP (the `webrtc` crate 0.21 skips
//! `?transport=tcp` and `turns:` URLs). Each UDP source gets its own stream
//! to the server — TCP to its TURN port, or TLS to its HTTPS port; datagrams
//! are framed for the stream (ChannelData padded) and frames from the stream
//! go back as datagrams. The server sees a real TURN-over-TCP/TLS client.

#![allow(dead_code)]

use funkraum::turn::framing::{Deframer, Frame, frame_for_stream};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub struct TurnTcpProxy {
    pub udp_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TurnTcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the bridge's streams go.
#[derive(Clone)]
enum Upstream {
    Tcp(SocketAddr),
    /// TLS with this client configuration and server name.
    Tls(SocketAddr, Arc<rustls::ClientConfig>, String),
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

impl Upstream {
    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(match self {
            Upstream::Tcp(addr) => Box::new(TcpStream::connect(addr).await?),
            Upstream::Tls(addr, config, name) => {
                Box::new(super::tls::connect(*addr, name, config).await?)
            }
        })
    }
}

impl TurnTcpProxy {
    /// To the server's TURN port over TCP.
    pub async fn start(turn_tcp: SocketAddr) -> TurnTcpProxy {
        TurnTcpProxy::start_to(Upstream::Tcp(turn_tcp)).await
    }

    /// To the server's HTTPS port over TLS (ALPN as `config` says).
    pub async fn start_tls(
        https: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        name: &str,
    ) -> TurnTcpProxy {
        TurnTcpProxy::start_to(Upstream::Tls(https, config, name.to_string())).await
    }

    async fn start_to(upstream: Upstream) -> TurnTcpProxy {
        let udp = Arc::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap());
        let udp_addr = udp.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut conns: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    return;
                };
                let tx = conns
                    .entry(from)
                    .or_insert_with(|| spawn_connection(udp.clone(), from, upstream.clone()));
                let _ = tx.send(buf[..n].to_vec()).await;
            }
        });
        TurnTcpProxy { udp_addr, task }
    }
}

fn spawn_connection(
    udp: Arc<UdpSocket>,
    client: SocketAddr,
    upstream: Upstream,
) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(1024);
    tokio::spawn(async move {
        let Ok(stream) = upstream.connect().await else {
            return;
        };
        let (mut rd, mut wr) = tokio::io::split(stream);
        let up = tokio::spawn(async move {
            while let Some(d) = rx.recv().await {
                if wr.write_all(&frame_for_stream(d)).await.is_err() {
                    return;
                }
            }
        });
        let mut deframer = Deframer::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => deframer.push(&buf[..n]),
            }
            while let Ok(Some(Frame::Stun(f) | Frame::Channel(f))) = deframer.next_frame() {
                let _ = udp.send_to(&f, client).await;
            }
        }
        up.abort();
    });
    tx
}
