//! One certificate chain with its key, ready for rustls, and the facts about
//! it that the rest of the module decides on (names, lifetime, fingerprint).

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use x509_parser::extensions::GeneralName;

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct Certificate {
    pub(crate) key: Arc<CertifiedKey>,
    /// SHA-256 of the leaf certificate, upper-case hex pairs joined by ':'
    /// (the form browsers show).
    pub fingerprint: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// DNS names (lower case) and IP addresses (as text) the leaf is for.
    pub names: Vec<String>,
}

/// The crypto provider of the whole daemon: aws-lc-rs, as str0m uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl Certificate {
    /// Reads a PEM chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Certificate, String> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("certificate: not PEM ({e})"))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("private key: not a PEM private key ({e})"))?;
        Certificate::from_der(chain, key)
    }

    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Certificate, String> {
        let leaf = chain
            .first()
            .ok_or("certificate: the file holds no certificate")?
            .clone();
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| format!("certificate: cannot parse ({e})"))?;
        let validity = parsed.validity();
        let not_before = unix_time(validity.not_before.timestamp());
        let not_after = unix_time(validity.not_after.timestamp());
        let mut names = Vec::new();
        if let Ok(Some(san)) = parsed.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => names.push(dns.to_ascii_lowercase()),
                    GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                            _ => None,
                        };
                        if let Some(ip) = ip {
                            names.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let key = CertifiedKey::from_der(chain, key, &provider())
            .map_err(|e| format!("private key: does not fit the certificate ({e})"))?;
        Ok(Certificate {
            key: Arc::new(key),
            fingerprint: fingerprint(leaf.as_ref()),
            not_before,
            not_after,
            names,
        })
    }

    /// The leaf certificate, DER.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.key.cert[0]
    }

    /// Whether the certificate is for every one of `names` (exact names; a
    /// wildcard in the certificate does not count).
    pub fn covers(&self, names: &[String]) -> bool {
        names.iter().all(|wanted| {
            let wanted = canonical_name(wanted);
            self.names.contains(&wanted)
        })
    }

    /// Time from `now` until the certificate expires (zero once it has).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.not_after.duration_since(now).unwrap_or_default()
    }

    /// RFC 3339 text of `not_after`.
    pub fn not_after_text(&self) -> String {
        rfc3339(self.not_after)
    }
}

/// The form names are compared in: DNS names lower case, IP addresses in
/// their canonical text.
pub fn canonical_name(name: &str) -> String {
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => name.to_ascii_lowercase(),
    }
}

pub fn fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn unix_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_colon_separated_upper_hex_sha256() {
        // SHA-256("abc")
        assert_eq!(
            fingerprint(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:\
             B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn names_compare_canonically() {
        assert_eq!(canonical_name("Meet.Example.ORG"), "meet.example.org");
        assert_eq!(canonical_name("2001:DB8:0::1"), "2001:db8::1");
    }
}
