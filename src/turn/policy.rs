//! Where the relay may send: the one decision that keeps the TURN server
//! from being an open proxy into this host and its networks (SSRF).
//!
//! Pure logic. Every peer address a client names — in CreatePermission,
//! ChannelBind and Send, and every address a relayed datagram goes to or
//! comes from — passes through [`RelayPolicy::check`].
//!
//! The rule is an allow list, not a deny list:
//! - the SFU's own media addresses (exact address *and* port) are always
//!   allowed, even on loopback in development;
//! - when peer-to-peer is on, public unicast addresses are allowed, except
//!   the host's own (other than the media address);
//! - everything else is refused: loopback, RFC 1918, CGNAT, link-local,
//!   unique-local, multicast, unspecified, documentation, benchmarking,
//!   reserved ranges, and IPv6 forms that embed or translate to IPv4
//!   (IPv4-mapped, NAT64, 6to4, Teredo).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a peer address is refused. Never shown to the client beyond the
/// 403; kept for counters and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Loopback, private, link-local, multicast, reserved … not reachable
    /// on the public Internet, so no participant needs it.
    NotPublic,
    /// One of this host's own addresses (other than the media address).
    ThisHost,
    /// A public address, but peer-to-peer relaying is off.
    PeerToPeerOff,
}

/// The relay policy. Built at start; `host_addresses` is refreshed by the
/// driver when the host's interfaces change.
#[derive(Debug, Clone)]
pub struct RelayPolicy {
    media: Vec<SocketAddr>,
    host_addresses: Vec<IpAddr>,
    p2p: bool,
}

impl RelayPolicy {
    /// `media`: the SFU's media addresses (what browsers are told, and the
    /// addresses its sockets are bound to). `host_addresses`: every address
    /// of this host's interfaces. `p2p`: whether participants may relay to
    /// each other directly (then public unicast peers are allowed).
    pub fn new(media: Vec<SocketAddr>, host_addresses: Vec<IpAddr>, p2p: bool) -> Self {
        let media = media.into_iter().map(canonical_addr).collect();
        let host_addresses = host_addresses
            .into_iter()
            .map(|ip| ip.to_canonical())
            .collect();
        RelayPolicy {
            media,
            host_addresses,
            p2p,
        }
    }

    pub fn set_host_addresses(&mut self, host_addresses: Vec<IpAddr>) {
        self.host_addresses = host_addresses
            .into_iter()
            .map(|ip| ip.to_canonical())
            .collect();
    }

    pub fn p2p(&self) -> bool {
        self.p2p
    }

    /// May the relay exchange datagrams with `peer`?
    pub fn check(&self, peer: SocketAddr) -> Result<(), Refusal> {
        // The media exception compares the address as written too, so
        // "::ffff:127.0.0.1" never matches a media address 127.0.0.1 by
        // accident of canonicalisation: relay sockets are of one family.
        if self.media.contains(&peer) {
            return Ok(());
        }
        let ip = peer.ip();
        if is_ipv4_embedding(ip) {
            return Err(Refusal::NotPublic);
        }
        if !is_public_unicast(ip) {
            return Err(Refusal::NotPublic);
        }
        if self.host_addresses.contains(&ip) || self.media.iter().any(|m| m.ip() == ip) {
            return Err(Refusal::ThisHost);
        }
        if !self.p2p {
            return Err(Refusal::PeerToPeerOff);
        }
        Ok(())
    }
}

fn canonical_addr(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// IPv6 addresses that stand for an IPv4 address: a relay must not be
/// talked into reaching 127.0.0.1 as ::ffff:127.0.0.1, nor an IPv4 network
/// through a NAT64 or 6to4 gateway.
fn is_ipv4_embedding(ip: IpAddr) -> bool {
    let IpAddr::V6(v6) = ip else {
        return false;
    };
    let s = v6.segments();
    v6.to_ipv4_mapped().is_some()
        // IPv4-compatible ::a.b.c.d (deprecated), except :: and ::1 which
        // are refused anyway as not public.
        || (s[..6] == [0, 0, 0, 0, 0, 0])
        // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
        || (s[0] == 0x64 && s[1] == 0xff9b)
        // 6to4 2002::/16.
        || s[0] == 0x2002
        // Teredo 2001::/32.
        || (s[0] == 0x2001 && s[1] == 0)
}

/// Globally routable unicast: what a participant's browser on the Internet
/// can have as an address.
pub fn is_public_unicast(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    // IANA IPv4 Special-Purpose Address Registry, every block that is not
    // globally reachable, plus multicast, reserved and broadcast.
    const REFUSED: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network", includes 0.0.0.0
        ([10, 0, 0, 0], 8),      // RFC 1918
        ([100, 64, 0, 0], 10),   // CGNAT, RFC 6598
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local (cloud metadata lives here)
        ([172, 16, 0, 0], 12),   // RFC 1918
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // TEST-NET-1 (documentation)
        ([192, 31, 196, 0], 24), // AS112-v4
        ([192, 52, 193, 0], 24), // AMT
        ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // RFC 1918
        ([192, 175, 48, 0], 24), // direct delegation AS112
        ([198, 18, 0, 0], 15),   // benchmarking, RFC 2544
        ([198, 51, 100, 0], 24), // TEST-NET-2 (documentation)
        ([203, 0, 113, 0], 24),  // TEST-NET-3 (documentation)
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, includes 255.255.255.255
    ];
    !REFUSED.iter().any(|&(net, prefix)| in_v4(ip, net, prefix))
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // Only global unicast 2000::/3 can be public at all; that excludes ::,
    // ::1, fc00::/7, fe80::/10, ff00::/8, ::ffff:0:0/96, 64:ff9b::/96 and
    // 100::/64 in one stroke. Then the special blocks inside 2000::/3.
    if !in_v6(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return false;
    }
    const REFUSED: &[([u16; 8], u32)] = &[
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (incl. Teredo, ORCHID)
        ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48), // benchmarking, RFC 5180
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation, RFC 9637
    ];
    !REFUSED
        .iter()
        .any(|&(net, prefix)| in_v6(ip, Ipv6Addr::from(net), prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const MEDIA_DEV: &str = "127.0.0.1:10000";
    const MEDIA_PUBLIC: &str = "198.51.100.7:10000"; // stands for a public IP in tests of the media exception

    fn dev(p2p: bool) -> RelayPolicy {
        RelayPolicy::new(
            vec![sa(MEDIA_DEV)],
            vec![
                "127.0.0.1".parse().unwrap(),
                "192.168.1.20".parse().unwrap(),
            ],
            p2p,
        )
    }

    fn production(p2p: bool) -> RelayPolicy {
        RelayPolicy::new(
            vec![sa("85.10.20.30:10000"), sa("[2a01:4f8::30]:10000")],
            vec![
                "85.10.20.30".parse().unwrap(),
                "85.10.20.31".parse().unwrap(),
                "2a01:4f8::30".parse().unwrap(),
                "2a01:4f8::31".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            ],
            p2p,
        )
    }

    /// Every address the issue names, and more of each kind, at a few
    /// ports. None may be relayed to, p2p or not, dev or production.
    const FORBIDDEN: &[&str] = &[
        // loopback
        "127.0.0.1",
        "127.0.0.2",
        "127.255.255.254",
        "::1",
        // RFC 1918
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "192.168.0.0",
        // CGNAT
        "100.64.0.1",
        "100.127.255.254",
        // link-local, cloud metadata
        "169.254.169.254",
        "169.254.0.1",
        "fe80::1",
        "fe80::a:b:c:d",
        "febf::1",
        // unique local
        "fd00::1",
        "fc00::1",
        "fdff:ffff::1",
        // unspecified, "this network"
        "0.0.0.0",
        "0.1.2.3",
        "::",
        // multicast, broadcast, reserved
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "ff02::1",
        "ff0e::1",
        // documentation, benchmarking, special purpose
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.5",
        "198.18.0.1",
        "198.19.255.255",
        "192.0.0.8",
        "192.88.99.1",
        "2001:db8::1",
        "3fff::1",
        "2001:2::1",
        "2001:10::1",
        "100::1",
        // IPv4-mapped and -embedding forms
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:192.168.1.1",
        "::ffff:0.0.0.0",
        "::ffff:8.8.8.8",
        "::127.0.0.1",
        "::8.8.8.8",
        "64:ff9b::7f00:1",
        "64:ff9b::808:808",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::1",
        "2002:808:808::1",
        "2001:0:4136:e378::1",
    ];

    #[test]
    fn forbidden_addresses_are_refused_in_every_mode() {
        for policy in [dev(false), dev(true), production(false), production(true)] {
            for ip in FORBIDDEN {
                let ip: IpAddr = ip.parse().unwrap();
                // Not 10000: 127.0.0.1:10000 is the dev media address,
                // tested on its own below.
                for port in [1, 22, 80, 3478, 9999, 10001, 65535] {
                    let peer = SocketAddr::new(ip, port);
                    let verdict = policy.check(peer);
                    assert!(verdict.is_err(), "{peer} allowed by {policy:?}");
                }
            }
        }
    }

    #[test]
    fn forbidden_addresses_are_not_public() {
        for ip in FORBIDDEN {
            let ip: IpAddr = ip.parse().unwrap();
            if !is_ipv4_embedding(ip) {
                assert!(!is_public_unicast(ip), "{ip} counted as public");
            }
        }
    }

    #[test]
    fn the_media_address_is_allowed_even_on_loopback() {
        for p2p in [false, true] {
            assert_eq!(dev(p2p).check(sa(MEDIA_DEV)), Ok(()));
            let p = production(p2p);
            assert_eq!(p.check(sa("85.10.20.30:10000")), Ok(()));
            assert_eq!(p.check(sa("[2a01:4f8::30]:10000")), Ok(()));
        }
    }

    #[test]
    fn the_media_ip_at_another_port_is_refused() {
        for p2p in [false, true] {
            let d = dev(p2p);
            for port in [22, 80, 3478, 8080, 9999, 10001] {
                let peer = SocketAddr::new("127.0.0.1".parse().unwrap(), port);
                assert_eq!(d.check(peer), Err(Refusal::NotPublic), "{peer}");
            }
            let p = production(p2p);
            for port in [22, 80, 443, 3478, 9999, 10001] {
                let peer = SocketAddr::new("85.10.20.30".parse().unwrap(), port);
                assert_eq!(p.check(peer), Err(Refusal::ThisHost), "{peer}");
                let peer = SocketAddr::new("2a01:4f8::30".parse().unwrap(), port);
                assert_eq!(p.check(peer), Err(Refusal::ThisHost), "{peer}");
            }
        }
    }

    #[test]
    fn the_hosts_other_addresses_are_refused_even_with_p2p() {
        let p = production(true);
        for peer in ["85.10.20.31:10000", "85.10.20.31:22", "[2a01:4f8::31]:443"] {
            assert_eq!(p.check(sa(peer)), Err(Refusal::ThisHost), "{peer}");
        }
    }

    #[test]
    fn mapped_media_address_is_refused() {
        // The exception is for the address as the SFU uses it, not for
        // another spelling of it.
        assert!(dev(true).check(sa("[::ffff:127.0.0.1]:10000")).is_err());
        assert!(
            production(true)
                .check(sa("[::ffff:85.10.20.30]:10000"))
                .is_err()
        );
    }

    #[test]
    fn public_addresses_only_with_p2p() {
        const PUBLIC: &[&str] = &[
            "8.8.8.8:3478",
            "1.1.1.1:50000",
            "85.10.20.99:10000",
            "100.63.255.255:1",
            "100.128.0.0:1",
            "172.15.255.255:1",
            "172.32.0.0:1",
            "192.169.0.1:1",
            "169.253.255.255:1",
            "198.17.255.255:1",
            "198.20.0.0:1",
            "223.255.255.255:1",
            "[2a00:1450:4001::200e]:443",
            "[2606:4700::1111]:3478",
            "[2001:4860:4860::8888]:1",
        ];
        for peer in PUBLIC {
            let peer = sa(peer);
            assert_eq!(dev(true).check(peer), Ok(()), "{peer}");
            assert_eq!(production(true).check(peer), Ok(()), "{peer}");
            assert_eq!(
                dev(false).check(peer),
                Err(Refusal::PeerToPeerOff),
                "{peer}"
            );
            assert_eq!(
                production(false).check(peer),
                Err(Refusal::PeerToPeerOff),
                "{peer}"
            );
        }
    }

    #[test]
    fn range_edges() {
        let public = |s: &str| is_public_unicast(s.parse().unwrap());
        assert!(public("9.255.255.255"));
        assert!(!public("10.0.0.0"));
        assert!(public("11.0.0.0"));
        assert!(public("126.255.255.255"));
        assert!(!public("127.0.0.0"));
        assert!(public("128.0.0.0"));
        assert!(public("192.0.1.255"));
        assert!(!public("192.0.2.0"));
        assert!(public("192.0.3.0"));
        assert!(public("203.0.112.255"));
        assert!(public("203.0.114.0"));
        assert!(public("223.255.255.255"));
        assert!(!public("224.0.0.0"));
        assert!(!public("1fff:ffff::1"));
        assert!(public("2000::1"));
        assert!(public("3ffe::1"));
        assert!(!public("3fff:0fff::1"));
        assert!(public("3fff:1000::1"));
        assert!(!public("4000::1"));
        assert!(public("2001:200::1"));
        assert!(!public("2001:1ff::1"));
        assert!(public("2001:db9::1"));
    }

    #[test]
    fn refreshed_host_addresses_take_effect() {
        let mut p = RelayPolicy::new(vec![sa(MEDIA_PUBLIC)], vec![], true);
        assert_eq!(p.check(sa("85.10.20.31:22")), Ok(()));
        p.set_host_addresses(vec!["85.10.20.31".parse().unwrap()]);
        assert_eq!(p.check(sa("85.10.20.31:22")), Err(Refusal::ThisHost));
        // Mapped spelling of a host address given by the interface list.
        p.set_host_addresses(vec!["::ffff:85.10.20.32".parse().unwrap()]);
        assert_eq!(p.check(sa("85.10.20.32:22")), Err(Refusal::ThisHost));
    }
}
