//! ACME (RFC 8555) with instant-acme: one account, created once and kept;
//! certificates ordered, stored and renewed by one task.
//!
//! The task's loop: plan the next renewal (ACME renewal information when the
//! CA offers it, else two thirds into the lifetime, with jitter); sleep until
//! then; order; on success store and swap the certificate in; on failure log
//! an error, keep what is in service and retry with exponential backoff.
//! Nothing here blocks serving: until the first certificate arrives the
//! listeners serve a self-signed stand-in.

use super::cert::Certificate;
use super::schedule;
use super::state::StateDir;
use super::store::CertStore;
use crate::config::{AcmeChallenge, TlsConfig};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, CertificateIdentifier, ChallengeType,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::sign::CertifiedKey;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Everything the ACME task needs from the configuration.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub directory_url: String,
    /// Extra trust anchor for the directory's own HTTPS (private CA).
    pub directory_ca: Option<PathBuf>,
    pub contact: Option<String>,
    /// Canonical names, in configuration order.
    pub names: Vec<String>,
    pub challenge: AcmeChallenge,
    pub retry_first: Duration,
    pub retry_max: Duration,
}

impl AcmeSettings {
    pub fn from_config(config: &TlsConfig) -> AcmeSettings {
        let path = &config.acme_directory_ca_file;
        AcmeSettings {
            directory_url: config.acme_directory_url().to_string(),
            directory_ca: (!path.as_os_str().is_empty()).then(|| path.clone()),
            contact: (!config.acme_email.is_empty())
                .then(|| format!("mailto:{}", config.acme_email)),
            names: config
                .domains
                .iter()
                .map(|d| super::cert::canonical_name(d))
                .collect(),
            challenge: config.acme_challenge,
            retry_first: Duration::from_secs(config.acme_retry_secs),
            retry_max: Duration::from_secs(TlsConfig::MAX_RETRY_SECS),
        }
    }

    /// The subdirectory of the state directory for this CA: each directory
    /// URL has its own account and certificate.
    pub fn state_name(&self) -> String {
        let host: String = self
            .directory_url
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.directory_url.as_bytes());
        let tag: String = digest.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{host}-{tag}")
    }
}

/// The stored certificate for `settings`, if there is one that has not
/// expired. One that misses a configured name is still served (its names
/// keep working) while the task orders a new one at once.
pub fn load_stored(dir: &StateDir, settings: &AcmeSettings) -> Option<Certificate> {
    let cert = dir.read("cert.pem").ok()??;
    let key = dir.read("key.pem").ok()??;
    let cert = match Certificate::from_pem(&cert, &key) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(
                dir = %dir.path().display(),
                "the stored ACME certificate is unusable ({e}); ordering a new one"
            );
            return None;
        }
    };
    if !cert.covers(&settings.names) {
        tracing::info!("the configured names changed; ordering a new certificate");
    }
    if cert.remaining(SystemTime::now()).is_zero() {
        tracing::info!("the stored ACME certificate has expired; ordering a new one");
        return None;
    }
    Some(cert)
}

/// The ACME task. Runs until aborted.
pub async fn run(settings: AcmeSettings, dir: StateDir, store: Arc<CertStore>) {
    let mut driver = Driver {
        settings,
        dir,
        store,
        account: None,
        failures: 0,
        jitter: rand::random(),
    };
    loop {
        let due = driver.plan().await;
        while let Some(step) = schedule::next_sleep(SystemTime::now(), due) {
            tokio::time::sleep(step).await;
        }
        // The plan may have been made before a jump in wall-clock time or
        // with ARI that has changed; plan again, renew only when still due.
        if driver.plan().await > SystemTime::now() {
            continue;
        }
        match driver.obtain().await {
            Ok(cert) => {
                tracing::info!(
                    fingerprint_sha256 = %cert.fingerprint,
                    not_after = %cert.not_after_text(),
                    "ACME: new certificate in service"
                );
                driver.store.swap(cert, true);
                driver.failures = 0;
                driver.jitter = rand::random();
                driver.store.set_acme_failures(0);
            }
            Err(e) => {
                driver.failures = driver.failures.saturating_add(1);
                driver.store.set_acme_failures(driver.failures);
                let wait = schedule::backoff(
                    driver.failures,
                    driver.settings.retry_first,
                    driver.settings.retry_max,
                    rand::random(),
                );
                let keeping = if driver.store.trusted() {
                    "keeping the certificate in service"
                } else {
                    "serving the self-signed stand-in meanwhile"
                };
                tracing::error!(
                    failures = driver.failures,
                    retry_in_secs = (wait.as_millis() + 500) / 1000,
                    "ACME: getting a certificate failed: {e}; {keeping}"
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

struct Driver {
    settings: AcmeSettings,
    dir: StateDir,
    store: Arc<CertStore>,
    account: Option<Account>,
    failures: u32,
    /// Where in the jitter range this certificate's renewal falls.
    jitter: f64,
}

impl Driver {
    /// When the next order is due: now without a trusted certificate for
    /// the configured names, else the renewal point.
    async fn plan(&mut self) -> SystemTime {
        let now = SystemTime::now();
        if !self.store.trusted() {
            return now;
        }
        let cert = self.store.current();
        if !cert.covers(&self.settings.names) {
            return now;
        }
        if let Some((start, end)) = self.renewal_window(&cert).await {
            return schedule::in_window(start, end, self.jitter);
        }
        schedule::renewal_time(cert.not_before, cert.not_after, self.jitter)
    }

    /// The CA's suggested renewal window (ARI), when it offers one and the
    /// account is at hand. Best effort: anything amiss means "no window".
    async fn renewal_window(&self, cert: &Certificate) -> Option<(SystemTime, SystemTime)> {
        let account = self.account.as_ref()?;
        let id = CertificateIdentifier::try_from(cert.leaf()).ok()?;
        match account.renewal_info(&id).await {
            Ok((info, _retry_after)) => {
                let at = |t: time::OffsetDateTime| {
                    SystemTime::UNIX_EPOCH + Duration::from_secs(t.unix_timestamp().max(0) as u64)
                };
                Some((
                    at(info.suggested_window.start),
                    at(info.suggested_window.end),
                ))
            }
            Err(instant_acme::Error::Unsupported(_)) => None,
            Err(e) => {
                tracing::warn!("ACME: no renewal information ({e}); renewing by the lifetime");
                None
            }
        }
    }

    async fn account(&mut self) -> Result<Account, String> {
        if let Some(a) = &self.account {
            return Ok(a.clone());
        }
        let builder = || match &self.settings.directory_ca {
            Some(ca) => Account::builder_with_root(ca)
                .map_err(|e| format!("tls.acme_directory_ca_file {}: {e}", ca.display())),
            None => Account::builder().map_err(|e| format!("no HTTPS client: {e}")),
        };
        let stored = self
            .dir
            .read("account.json")
            .map_err(|e| format!("{}: {e}", self.dir.path().display()))?;
        let account = match stored {
            Some(json) => {
                let credentials: AccountCredentials = serde_json::from_slice(&json)
                    .map_err(|e| format!("the stored ACME account is unreadable: {e}"))?;
                builder()?
                    .from_credentials(credentials)
                    .await
                    .map_err(|e| self.ca_error("cannot reach the ACME directory", e))?
            }
            None => {
                let contact: Vec<&str> = self.settings.contact.iter().map(String::as_str).collect();
                let (account, credentials) = builder()?
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.settings.directory_url.clone(),
                        None,
                    )
                    .await
                    .map_err(|e| self.ca_error("cannot create the ACME account", e))?;
                let json = serde_json::to_vec_pretty(&credentials)
                    .map_err(|e| format!("cannot store the ACME account: {e}"))?;
                self.dir
                    .write("account.json", &json)
                    .map_err(|e| format!("cannot store the ACME account: {e}"))?;
                tracing::info!(directory = %self.settings.directory_url, "ACME: account created");
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    fn ca_error(&self, what: &str, e: instant_acme::Error) -> String {
        format!("{what} {}: {}", self.settings.directory_url, chain(&e))
    }

    /// One complete order: challenges, finalization, download, storage.
    async fn obtain(&mut self) -> Result<Certificate, String> {
        let result = self.order().await;
        self.store.clear_challenges();
        if result.is_err() {
            // A stale account (deleted at the CA, new directory) must not
            // wedge every retry: load it afresh next time.
            self.account = None;
        }
        result
    }

    async fn order(&mut self) -> Result<Certificate, String> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .settings
            .names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Identifier::Ip(ip),
                Err(_) => Identifier::Dns(n.clone()),
            })
            .collect();
        let mut order = match account.new_order(&NewOrder::new(&identifiers)).await {
            Ok(order) => order,
            Err(e) => {
                if account_gone(&e) {
                    // The CA no longer knows the stored account (it was
                    // deactivated, or the CA lost it): make a new one next time.
                    let _ = std::fs::remove_file(self.dir.path().join("account.json"));
                    tracing::warn!(
                        "ACME: the CA does not know the stored account; a new one will be created"
                    );
                }
                return Err(self.ca_error("the CA refused the order at", e));
            }
        };
        let challenge_type = match self.settings.challenge {
            AcmeChallenge::Http01 => ChallengeType::Http01,
            AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization
                .map_err(|e| format!("cannot fetch an authorization: {}", chain(&e)))?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(format!(
                        "the CA's authorization for {} is {other:?}",
                        authorization.identifier()
                    ));
                }
            }
            let name = authorization.identifier().to_string();
            let mut challenge =
                authorization
                    .challenge(challenge_type.clone())
                    .ok_or_else(|| {
                        format!("the CA offers no {challenge_type:?} challenge for {name}")
                    })?;
            let key_authorization = challenge.key_authorization();
            match self.settings.challenge {
                AcmeChallenge::Http01 => self.store.set_http_challenge(
                    challenge.token.clone(),
                    key_authorization.as_str().to_string(),
                ),
                AcmeChallenge::TlsAlpn01 => {
                    let key = alpn_challenge_key(&name, key_authorization.digest().as_ref())?;
                    self.store
                        .set_alpn_challenge(sni_name(&name), Arc::new(key));
                }
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("the CA did not take the {name} challenge: {}", chain(&e)))?;
        }
        let status = order
            .poll_ready(&RetryPolicy::new().timeout(Duration::from_secs(120)))
            .await
            .map_err(|e| format!("waiting for validation: {}", chain(&e)))?;
        if status != OrderStatus::Ready {
            return Err(format!(
                "validation failed ({status:?}){}",
                failure_details(&mut order).await
            ));
        }
        let key_pem = order
            .finalize()
            .await
            .map_err(|e| format!("finalizing the order: {}", chain(&e)))?;
        let chain_pem = order
            .poll_certificate(&RetryPolicy::new().timeout(Duration::from_secs(120)))
            .await
            .map_err(|e| format!("downloading the certificate: {}", chain(&e)))?;
        let cert = Certificate::from_pem(chain_pem.as_bytes(), key_pem.as_bytes())
            .map_err(|e| format!("the CA's certificate: {e}"))?;
        self.dir
            .write_all(&[
                ("key.pem", key_pem.as_bytes()),
                ("cert.pem", chain_pem.as_bytes()),
            ])
            .map_err(|e| format!("cannot store the certificate: {e}"))?;
        Ok(cert)
    }
}

/// Whether the CA says the account does not exist (RFC 8555 §7.3.1).
fn account_gone(e: &instant_acme::Error) -> bool {
    matches!(e, instant_acme::Error::Api(problem)
        if problem.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"))
}

/// An error with its causes ("client error (Connect): tcp connect error:
/// Connection refused"): the top level alone rarely says what went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The CA's reasons, from the failed challenges of an invalid order.
async fn failure_details(order: &mut instant_acme::Order) -> String {
    let mut details = String::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(authorization)) = authorizations.next().await {
        for challenge in &authorization.challenges {
            if let Some(problem) = &challenge.error {
                details.push_str(&format!(
                    "; {}: {}",
                    authorization.identifier(),
                    problem.detail.as_deref().unwrap_or("no detail")
                ));
            }
        }
    }
    details
}

/// The TLS-ALPN-01 certificate for `name` (RFC 8737): self-signed, for that
/// one name, carrying the key authorization's digest in the critical
/// acmeIdentifier extension.
fn alpn_challenge_key(name: &str, digest: &[u8]) -> Result<CertifiedKey, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| format!("challenge key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])
        .map_err(|e| format!("challenge certificate for {name}: {e}"))?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("challenge certificate for {name}: {e}"))?;
    // Not through `Certificate`: webpki refuses to parse a certificate with
    // an unknown critical extension, which this one has by design.
    let key_der = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let signing_key = super::cert::provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| format!("challenge key: {e}"))?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing_key))
}

/// The SNI a validating CA sends for `name`: the name itself, or for an IP
/// address its reverse-DNS name (RFC 8738 §6).
pub fn sni_name(name: &str) -> String {
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        Ok(IpAddr::V6(v6)) => {
            let mut s = String::new();
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s + "ip6.arpa"
        }
        Err(_) => name.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_identifiers_use_reverse_dns_sni() {
        assert_eq!(sni_name("Meet.Example"), "meet.example");
        assert_eq!(sni_name("192.0.2.7"), "7.2.0.192.in-addr.arpa");
        assert_eq!(
            sni_name("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn each_directory_has_its_own_state() {
        let mut config = TlsConfig::default();
        let production = AcmeSettings::from_config(&config).state_name();
        config.acme_directory = "letsencrypt-staging".into();
        let staging = AcmeSettings::from_config(&config).state_name();
        // docs/operating.md shows this name.
        assert_eq!(production, "acme-v02.api.letsencrypt.org-5e76d315");
        assert_ne!(production, staging);
        config.acme_directory = "https://127.0.0.1:14000/dir".into();
        assert!(
            AcmeSettings::from_config(&config)
                .state_name()
                .starts_with("127.0.0.1_14000-")
        );
    }

    #[test]
    fn challenge_certificate_is_for_the_name_only() {
        let key = alpn_challenge_key("meet.example", &[7u8; 32]).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(key.cert[0].as_ref()).unwrap();
        let acme_ext = parsed
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(acme_ext.critical);
    }
}
