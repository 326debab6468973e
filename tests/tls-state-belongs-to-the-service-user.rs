//! Started as root, the daemon binds its ports and then becomes
//! `process.user`; the TLS state directory (keys and certificates, which
//! ACME renewal rewrites later) is handed to that user first, all the way
//! down.

mod common;

use common::daemon::{loopback_config, spawn_with_stdout_lines};
use common::tls::{TempDir, client_accepting_any, get};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_state_is_handed_to_the_unprivileged_user() {
    let dir = TempDir::new("tls-state-owner");
    let state = dir.path().join("state");
    let runtime = dir.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let config = loopback_config(
        &runtime,
        &format!(
            "[process]\nuser = \"nobody\"\n\n[turn]\nenabled = false\n\n\
             [tls]\nmode = \"self-signed\"\nstate_dir = \"{}\"\n\
             https_listen = [\"127.0.0.1:0\"]\nhttp_listen = []\n",
            state.display()
        ),
    );
    let config_path = dir.path().join("funkraum.toml");
    std::fs::write(&config_path, config).unwrap();
    let (mut child, rx) = spawn_with_stdout_lines(&config_path, &[]);
    let mut addr = None;
    let mut fingerprint_line = None;
    while addr.is_none() || fingerprint_line.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("funkraum prints its address and fingerprint within 30 s");
        if let Some(a) = line.strip_prefix("funkraum serving https://") {
            addr = Some(a.trim().parse::<std::net::SocketAddr>().unwrap());
        }
        if line.starts_with("TLS certificate (self-signed, not trusted by browsers): SHA-256 ") {
            fingerprint_line = Some(line);
        }
    }
    let addr = addr.unwrap();
    let r = get(addr, "localhost", &client_accepting_any(), "/healthz")
        .await
        .expect("HTTPS answers after the privilege drop");
    let fingerprint = r.json()["tls"]["fingerprint_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fingerprint_line.unwrap().ends_with(&fingerprint));

    // Root hands the state to `nobody`; an unprivileged start keeps it.
    let expected = if nix::unistd::geteuid().is_root() {
        nix::unistd::User::from_name("nobody")
            .unwrap()
            .expect("a nobody user")
            .uid
            .as_raw()
    } else {
        nix::unistd::geteuid().as_raw()
    };
    let mut seen = 0;
    walk(&state, &mut |path| {
        seen += 1;
        let owner = std::fs::symlink_metadata(path).unwrap().uid();
        assert_eq!(owner, expected, "{} belongs to uid {owner}", path.display());
    });
    assert_eq!(seen, 4, "state, self-signed/, cert.pem, key.pem");
    let _ = child.kill();
    let _ = child.wait();
}

fn walk(path: &Path, visit: &mut dyn FnMut(&Path)) {
    visit(path);
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            walk(&entry.unwrap().path(), visit);
        }
    }
}
