//! Finding network addresses in log text, for the logging gate: a log event
//! below ERROR that names an address other than the server's own is not
//! written (third-party crates format peer addresses freely).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

/// The server's own addresses: naming them in a log line is not personal.
#[derive(Clone, Default, Debug)]
pub struct OwnAddresses(Arc<RwLock<Vec<IpAddr>>>);

impl OwnAddresses {
    pub fn add(&self, ip: IpAddr) {
        let ip = ip.to_canonical();
        let mut own = self.0.write().unwrap_or_else(|e| e.into_inner());
        if !own.contains(&ip) {
            own.push(ip);
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_unspecified()
            || self
                .0
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&ip)
    }

    /// True if `text` names an IP address (with or without port) that is
    /// not one of ours.
    pub fn text_names_foreign_address(&self, text: &str) -> bool {
        candidate_tokens(text)
            .filter_map(parse_address)
            .any(|ip| !self.contains(ip))
    }
}

/// Runs of characters that can make up an IPv4/IPv6 address with port,
/// brackets or zone.
fn candidate_tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']' | '%')))
        .filter(|t| t.len() >= 2 && (t.contains('.') || t.contains(':')))
}

fn parse_address(token: &str) -> Option<IpAddr> {
    // Punctuation around an address ("at 1.2.3.4." or "host:1.2.3.4"), but
    // not the "::" that starts a compressed IPv6 address.
    let token = token.trim_end_matches(['.', ':']).trim_start_matches('.');
    let token = match token.strip_prefix(':') {
        Some(rest) if !rest.starts_with(':') => rest,
        _ => token,
    };
    if let Ok(sa) = token.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    let bare = token.trim_start_matches('[');
    let bare = bare.split(']').next().unwrap_or(bare);
    let bare = bare.split('%').next().unwrap_or(bare);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip);
    }
    // "1.2.3.4:5678" parses above; "fe80::1%eth0:5" and friends land here.
    // Also try dropping a trailing ":port" from an IPv4 token.
    if let Some((host, port)) = token.rsplit_once(':')
        && port.chars().all(|c| c.is_ascii_digit())
        && let Ok(ip) = host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
    {
        return Some(ip);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> OwnAddresses {
        let own = OwnAddresses::default();
        own.add("192.0.2.2".parse().unwrap());
        own.add("127.0.0.1".parse().unwrap());
        own
    }

    #[test]
    fn finds_addresses_in_all_their_forms() {
        let own = own();
        for text in [
            "from 203.0.113.9",
            "peer=203.0.113.9:40000,",
            "addr 10.1.2.3.",
            "[2001:db8::7]:5000",
            "remote: 2001:db8::7",
            "fe80::1%eth0",
            "Candidate { addr: 127.0.0.2:51000 }",
            "::ffff:198.51.100.4",
            "V4(10.0.0.1)",
        ] {
            assert!(own.text_names_foreign_address(text), "missed: {text}");
        }
    }

    #[test]
    fn own_addresses_and_ordinary_text_pass() {
        let own = own();
        for text in [
            "serving on 127.0.0.1:8080",
            "media [192.0.2.2:10000]",
            "bound 0.0.0.0:10000 and [::]:10000",
            "::ffff:127.0.0.1",
            "joined a room",
            "took 12:30 minutes",
            "participant=P00000000deadbeef",
            "version 0.1.0",
        ] {
            assert!(!own.text_names_foreign_address(text), "flagged: {text}");
        }
    }
}
