//! Self-signed certificates (rcgen): for nodes without a public name, and as
//! the stand-in while ACME has not delivered a first certificate.

use super::cert::{Certificate, canonical_name};
use super::state::StateDir;
use crate::config::is_dns_name;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// How long a self-signed certificate is valid. Browsers ask once either
/// way; a long life keeps the fingerprint people compared stable.
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// A stored certificate closer than this to its end is replaced at start.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The names a self-signed certificate covers: `domains`, then the media
/// addresses; with neither, this host's name and `localhost`.
pub fn names(domains: &[String], addresses: &[IpAddr]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let candidates = domains
        .iter()
        .map(|d| canonical_name(d))
        .chain(addresses.iter().map(|a| a.to_string()));
    for name in candidates {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            let host = host.trim().to_ascii_lowercase();
            if is_dns_name(&host) && host != "localhost" {
                names.push(host);
            }
        }
        names.push("localhost".to_string());
    }
    names
}

/// Makes a new self-signed certificate for `names`: (chain PEM, key PEM).
pub fn generate(names: &[String]) -> Result<(String, String), String> {
    let key = KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
    let mut params = CertificateParams::new(names.to_vec())
        .map_err(|e| format!("cannot make a certificate for {names:?}: {e}"))?;
    let mut subject = DistinguishedName::new();
    subject.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    subject.push(DnType::OrganizationName, "funkraum (self-signed)");
    params.distinguished_name = subject;
    let now = time::OffsetDateTime::now_utc();
    // A day of slack for clocks that are a little behind.
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + VALIDITY;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A fresh self-signed certificate held in memory only.
pub fn ephemeral(names: &[String]) -> Result<Certificate, String> {
    let (cert, key) = generate(names)?;
    Certificate::from_pem(cert.as_bytes(), key.as_bytes())
}

/// The stored self-signed certificate when it is for exactly `names` and
/// not near its end; otherwise a new one, stored.
pub fn load_or_make(dir: &StateDir, names: &[String]) -> Result<Certificate, String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.path().display());
    let stored = match (
        dir.read("cert.pem").map_err(io)?,
        dir.read("key.pem").map_err(io)?,
    ) {
        (Some(cert), Some(key)) => Certificate::from_pem(&cert, &key).ok(),
        _ => None,
    };
    let wanted: BTreeSet<String> = names.iter().map(|n| canonical_name(n)).collect();
    let reason = match &stored {
        None => "none stored yet",
        Some(c) if c.names.iter().cloned().collect::<BTreeSet<_>>() != wanted => {
            "the names changed"
        }
        Some(c) if c.remaining(SystemTime::now()) < RENEW_BEFORE => "the old one is near its end",
        Some(_) => "",
    };
    if let (Some(cert), "") = (stored, reason) {
        return Ok(cert);
    }
    let (cert_pem, key_pem) = generate(names)?;
    let cert = Certificate::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    dir.write_all(&[
        ("key.pem", key_pem.as_bytes()),
        ("cert.pem", cert_pem.as_bytes()),
    ])
    .map_err(io)?;
    // Without the names: they may hold IP addresses, which the log gate
    // drops below ERROR until the server's own addresses are known.
    tracing::info!(reason, "made a new self-signed certificate");
    Ok(cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_domains_and_addresses_without_duplicates() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let n = names(&["Meet.Example".into(), "192.0.2.1".into()], &[ip]);
        assert_eq!(n, vec!["meet.example".to_string(), "192.0.2.1".to_string()]);
        assert!(names(&[], &[]).contains(&"localhost".to_string()));
    }

    #[test]
    fn generated_certificate_covers_names() {
        let n = vec!["node.mesh".to_string(), "10.1.2.3".to_string()];
        let cert = ephemeral(&n).unwrap();
        assert!(cert.covers(&n));
        assert!(!cert.covers(&["other.mesh".to_string()]));
        assert!(cert.remaining(SystemTime::now()) > Duration::from_secs(9 * 365 * 24 * 3600));
    }
}
