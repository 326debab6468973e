//! Which addresses the media port is announced on, and the sockets behind
//! them. One UDP port; one socket per announced address, because str0m must
//! be told the local address each datagram arrived on — and that per media
//! thread: with several, each has its own socket on the same address and
//! port (`SO_REUSEPORT`), and the kernel spreads remote addresses over them.

use crate::config::MediaConfig;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// The media sockets: `announced[i]` is what browsers are told,
/// `threads[t][i]` is media thread t's socket for it.
#[derive(Debug)]
pub struct MediaSockets {
    pub threads: Vec<Vec<UdpSocket>>,
    pub announced: Vec<SocketAddr>,
}

/// Receive buffer asked for on every media socket: enough for bursts of
/// video frames from many publishers, not for seconds of backlog. An
/// overloaded SFU should drop early rather than deliver everything late
/// (docs/performance.md, finding 3). The kernel doubles the value for its
/// bookkeeping and charges each datagram its buffer size (about 2.3 KiB
/// for a 1,100-byte video packet), so 1 MiB holds about 900 datagrams:
/// ~150 ms of the 5,750 packets/s of ingress that saturate a two-core
/// machine (25 publishers at 1.5 Mbit/s), more below capacity.
const RECV_BUFFER_BYTES: usize = 1 << 20;
/// Send buffer: a batch's datagrams leave right after each other and wait
/// here for the network interface.
const SEND_BUFFER_BYTES: usize = 4 << 20;

impl MediaSockets {
    /// Binds the media port on every address to announce, once per media
    /// thread (`media.threads`). `http_on_loopback` adds 127.0.0.1 when
    /// detecting, so a browser on this machine can reach the media port even
    /// without any network.
    pub fn bind(config: &MediaConfig, http_on_loopback: bool) -> io::Result<MediaSockets> {
        let threads = config.thread_count();
        let ips = if config.addresses.is_empty() {
            detect_addresses(http_on_loopback)
        } else {
            config.addresses.clone()
        };
        let mut port = config.port;
        let mut sockets: Vec<Vec<UdpSocket>> = (0..threads).map(|_| Vec::new()).collect();
        let mut announced = Vec::new();
        for ip in ips {
            // Bound alone first (no SO_REUSEPORT): a port in use fails here
            // as it always did, and port 0 gets one that no socket has — a
            // reuseport bind to port 0 may be handed a port that another
            // reuseport socket of the same user holds, and share its traffic.
            let first = match bind_udp(SocketAddr::new(ip, port), false) {
                Ok(s) => s,
                // Not an address of this host: a public address in front of a
                // NAT. Receive on the wildcard of that family, announce `ip`.
                Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable => {
                    let any = match ip {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    };
                    bind_udp(SocketAddr::new(any, port), false)?
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot bind media port {port} on {ip}: {e}"),
                    ));
                }
            };
            // Port 0 (tests): the first socket picks, the others follow.
            let local = first.local_addr()?;
            port = local.port();
            announced.push(SocketAddr::new(ip, port));
            if threads == 1 {
                sockets[0].push(first);
                continue;
            }
            // The group, in its place: a UDP port is free again as soon as
            // its socket is closed.
            drop(first);
            for thread in &mut sockets {
                let socket = bind_udp(local, true).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot bind media port {port} on {ip} again (SO_REUSEPORT): {e}"),
                    )
                })?;
                thread.push(socket);
            }
        }
        Ok(MediaSockets {
            threads: sockets,
            announced,
        })
    }
}

fn bind_udp(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Best effort: the kernel caps these at net.core.rmem_max/wmem_max
    // (the appliance raises those: systemd/sysctl-funkraum.conf).
    let _ = socket.set_recv_buffer_size(RECV_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SEND_BUFFER_BYTES);
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The addresses of the default routes (IPv4 and IPv6), plus loopback when
/// asked. Firefox never uses 127.0.0.1 for media, so the default-route
/// address is announced even for a browser on the same machine.
fn detect_addresses(include_loopback: bool) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    if include_loopback {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    // connect() on a UDP socket only picks a route and a source address; no
    // packet leaves the host. The targets are documentation addresses.
    let probes: [SocketAddr; 2] = [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 9),
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            9,
        ),
    ];
    for probe in probes {
        let bind: SocketAddr = match probe {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let Ok(s) = UdpSocket::bind(bind) else {
            continue;
        };
        if s.connect(probe).is_err() {
            continue;
        }
        if let Ok(local) = s.local_addr() {
            let ip = local.ip();
            let usable = !ip.is_unspecified()
                && !ips.contains(&ip)
                && match ip {
                    IpAddr::V6(v6) => !v6.is_unicast_link_local(),
                    IpAddr::V4(_) => true,
                };
            if usable {
                ips.push(ip);
            }
        }
    }
    if ips.is_empty() {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_gives_one_port_for_all_sockets() {
        let config = MediaConfig {
            port: 0,
            addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            threads: 1,
        };
        let s = MediaSockets::bind(&config, false).unwrap();
        assert_eq!(s.announced.len(), 1);
        assert_ne!(s.announced[0].port(), 0);
        assert_eq!(s.threads.len(), 1);
        assert_eq!(s.threads[0][0].local_addr().unwrap(), s.announced[0]);
    }

    #[test]
    fn every_media_thread_has_a_socket_on_the_one_port() {
        let config = MediaConfig {
            port: 0,
            addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            threads: 3,
        };
        let s = MediaSockets::bind(&config, false).unwrap();
        assert_eq!(s.threads.len(), 3);
        for thread in &s.threads {
            assert_eq!(thread.len(), 1);
            assert_eq!(thread[0].local_addr().unwrap(), s.announced[0]);
        }
        // Taken: a second server on the same port is refused, as with one
        // thread, instead of joining the group.
        let again = MediaConfig {
            port: s.announced[0].port(),
            ..config
        };
        let e = MediaSockets::bind(&again, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
    }

    #[test]
    fn detection_with_loopback_starts_with_loopback() {
        let ips = detect_addresses(true);
        assert_eq!(ips[0], IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
}
