//! Debian's `pebble` (the ACME test server) on loopback, with a listener
//! certificate made here: Debian ships none.
#![allow(dead_code)]

use super::captured_logs::Logs;
use super::tls::{TempDir, client_with_roots, get, tls_config, wait_until};
use funkraum::config::{Config, TlsMode};
use funkraum::tls::CertStore;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A loopback TCP port nobody listens on right now, picked at random below
/// the kernel's ephemeral range (`net.ipv4.ip_local_port_range`): a port
/// that `bind(0)` handed out and that was released can be taken by any
/// outgoing connection before its user binds it again (a server start then
/// failed with "Address already in use" in CI); one below that range is
/// taken only by an explicit bind.
pub fn free_port() -> u16 {
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let lowest = 10_000.min(ephemeral_low / 2);
    for _ in 0..1000 {
        let port = rand::random_range(lowest..ephemeral_low);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {lowest}..{ephemeral_low}")
}

#[derive(Debug, Clone)]
pub struct PebbleOptions {
    /// Port of the ACME directory (0: any free one).
    pub listen_port: u16,
    /// Where pebble validates HTTP-01 (the daemon's port-80 listener).
    pub http_port: u16,
    /// Where pebble validates TLS-ALPN-01 (the daemon's HTTPS listener).
    pub tls_port: u16,
    /// Lifetime of issued certificates in seconds (pebble's default: 5 years).
    pub validity_secs: Option<u64>,
}

impl PebbleOptions {
    pub fn new(http_port: u16, tls_port: u16) -> PebbleOptions {
        PebbleOptions {
            listen_port: 0,
            http_port,
            tls_port,
            validity_secs: None,
        }
    }
}

/// A running pebble; killed on drop.
pub struct Pebble {
    child: Option<Child>,
    dir: TempDir,
    directory: SocketAddr,
    pub directory_url: String,
    pub management: SocketAddr,
    /// PEM of the CA that signed pebble's own HTTPS certificate: what the
    /// daemon's `tls.acme_directory_ca_file` points at.
    pub listener_ca_file: PathBuf,
    listener_ca_pem: String,
    log_file: PathBuf,
}

impl Pebble {
    /// Prepares and starts pebble; returns once its directory answers.
    pub async fn start(options: PebbleOptions) -> Pebble {
        let mut pebble = Pebble::prepare(options);
        pebble.run().await;
        pebble
    }

    /// Writes pebble's certificates and configuration without starting it:
    /// `directory_url` and `listener_ca_file` are known from here on.
    pub fn prepare(options: PebbleOptions) -> Pebble {
        let dir = TempDir::new("pebble");
        // The listener's own certificate, from a CA made for this run.
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "funkraum test: pebble listener CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let listener_ca_file = dir.path().join("listener-ca.pem");
        std::fs::write(&listener_ca_file, ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();

        let listen_port = match options.listen_port {
            0 => free_port(),
            p => p,
        };
        let management: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{listen_port}"),
                "managementListenAddress": management.to_string(),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": options.http_port,
                "tlsPort": options.tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
            }
        });
        if let Some(v) = options.validity_secs {
            config["pebble"]["certificateValidityPeriod"] = v.into();
        }
        std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
        Pebble {
            child: None,
            directory: ([127, 0, 0, 1], listen_port).into(),
            directory_url: format!("https://127.0.0.1:{listen_port}/dir"),
            management,
            listener_ca_file,
            listener_ca_pem: ca.pem(),
            log_file: dir.path().join("pebble.log"),
            dir,
        }
    }

    /// Starts the prepared pebble; returns once its directory answers.
    pub async fn run(&mut self) {
        assert!(self.child.is_none(), "pebble runs already");
        let pebble = which("pebble").unwrap_or_else(|| {
            panic!("the tests need Debian's `pebble` (ACME test server): run `make test-deps`")
        });
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .unwrap();
        let child = Command::new(pebble)
            .arg("-config")
            .arg(self.dir.path().join("pebble.json"))
            .arg("-strict=false")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("pebble starts");
        self.child = Some(child);
        self.wait_ready(self.directory).await;
    }

    async fn wait_ready(&self, directory: SocketAddr) {
        let client = client_with_roots(self.listener_ca_pem.as_bytes());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = get(directory, "localhost", &client, "/dir").await
                && r.status == 200
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("pebble did not come up:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// PEM of the root that signs the certificates pebble issues (new at
    /// every start), from the management endpoint.
    pub async fn issuing_root_pem(&self) -> String {
        let client = client_with_roots(self.listener_ca_pem.as_bytes());
        let r = get(self.management, "localhost", &client, "/roots/0")
            .await
            .expect("pebble's management endpoint answers");
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// An ACME configuration (see [`tls_config`]) for `domains`, ordering
    /// from this pebble; not yet validated, for a test to adjust.
    pub fn acme_config(
        &self,
        state_dir: &Path,
        https_port: u16,
        http_port: u16,
        domains: &[&str],
    ) -> Config {
        let mut config = tls_config(TlsMode::Acme, state_dir, https_port, http_port);
        config.tls.domains = domains.iter().map(|d| d.to_string()).collect();
        config.tls.acme_directory = self.directory_url.clone();
        config.tls.acme_directory_ca_file = self.listener_ca_file.clone();
        config
    }

    /// Waits at most `secs` for `store` to hold a trusted certificate (one
    /// from this pebble); panics otherwise, with pebble's log and, if given,
    /// the captured daemon logs.
    pub async fn wait_trusted(&self, store: &Arc<CertStore>, secs: u64, logs: Option<&Logs>) {
        wait_until(secs, "a certificate from pebble", || {
            let store = store.clone();
            async move { store.trusted() }
        })
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\npebble log:\n{}\n{}",
                self.log(),
                logs.map(Logs::text).unwrap_or_default()
            )
        });
    }

    /// Pebble's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Stops pebble (the directory becomes unreachable).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(program))
        .find(|p| p.is_file())
}
