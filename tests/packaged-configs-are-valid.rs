//! The configuration files that ship in the Debian package, the disk image
//! (image/funkraum.toml) and the OCI image (image/container.toml) start the
//! current daemon as the appliance needs it (HTTPS with a self-signed
//! certificate, TURN on both address families, peer to peer on), and the
//! firewall of the appliance (nftables/funkraum.nft) opens exactly the
//! ports the packaged file uses, the TURN relay range included.

use funkraum::Config;
use funkraum::config::{ListenIp, TlsMode};
use funkraum::server::turn_settings;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

fn load(file: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn families(addrs: &[SocketAddr]) -> BTreeSet<&'static str> {
    addrs
        .iter()
        .map(|a| if a.is_ipv6() { "IPv6" } else { "IPv4" })
        .collect()
}

#[test]
fn the_appliance_serves_https_on_both_families() {
    let packaged = load("image/funkraum.toml");
    assert_eq!(packaged.tls.mode, TlsMode::SelfSigned);
    for addrs in [&packaged.tls.https_listen, &packaged.tls.http_listen] {
        assert!(
            addrs.iter().all(|a| a.ip().is_unspecified()),
            "every address: {addrs:?}"
        );
        assert_eq!(families(addrs).len(), 2, "IPv4 and IPv6: {addrs:?}");
    }
    assert!(packaged.rooms.p2p, "peer to peer is on by default");
    assert!(packaged.turn.enabled);
    assert_eq!(packaged.turn.address, ListenIp::Auto);
}

#[test]
fn the_appliance_turn_listens_on_both_families() {
    let packaged = load("image/funkraum.toml");
    let media = ["192.0.2.10:10000".parse().unwrap()];
    let settings = turn_settings(&packaged, packaged.tls.https_listen[0], &media);
    assert_eq!(
        families(&settings.listen).len(),
        2,
        "TURN on IPv4 and IPv6: {:?}",
        settings.listen
    );
    assert!(
        settings
            .listen
            .iter()
            .all(|a| a.ip().is_unspecified() && a.port() == packaged.turn.port),
        "{:?}",
        settings.listen
    );
}

#[test]
fn the_container_serves_https_unprivileged() {
    let container = load("image/container.toml");
    assert_ne!(container.tls.mode, TlsMode::Off);
    assert!(
        container.tls.https_listen.iter().all(|a| a.port() == 8443),
        "the container runs unprivileged, on 8443: {:?}",
        container.tls.https_listen
    );
    assert_eq!(families(&container.tls.https_listen).len(), 2);
    assert!(
        container.tls.http_listen.iter().all(|a| a.port() >= 1024),
        "{:?}",
        container.tls.http_listen
    );
}

/// The value of `define NAME = VALUE` in the ruleset.
fn define<'a>(nft: &'a str, name: &str) -> &'a str {
    let prefix = format!("define {name} = ");
    nft.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("nftables/funkraum.nft defines {name}"))
        .trim()
}

#[test]
fn the_firewall_opens_the_packaged_ports() {
    let packaged = load("image/funkraum.toml");
    let nft = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("nftables/funkraum.nft"),
    )
    .unwrap();
    let port = |addrs: &[SocketAddr]| {
        let ports: BTreeSet<u16> = addrs.iter().map(SocketAddr::port).collect();
        assert_eq!(ports.len(), 1, "one port: {addrs:?}");
        ports.into_iter().next().unwrap().to_string()
    };
    assert_eq!(define(&nft, "media_port"), packaged.media.port.to_string());
    assert_eq!(define(&nft, "turn_port"), packaged.turn.port.to_string());
    assert_eq!(define(&nft, "https_port"), port(&packaged.tls.https_listen));
    assert_eq!(define(&nft, "http_port"), port(&packaged.tls.http_listen));
    assert_eq!(
        define(&nft, "turn_relay_ports"),
        format!(
            "{}-{}",
            packaged.turn.relay_port_min, packaged.turn.relay_port_max
        ),
        "peer to peer through TURN needs the relay range open"
    );
    let rule = |proto: &str| {
        nft.lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{proto} dport {{ $")))
            .unwrap_or_else(|| panic!("a {proto} dport rule"))
    };
    let tcp = rule("tcp");
    for name in ["$http_port", "$https_port", "$turn_port", "$ssh_port"] {
        assert!(tcp.contains(name), "{name} in {tcp}");
    }
    let udp = rule("udp");
    for name in ["$turn_port", "$media_port", "$turn_relay_ports"] {
        assert!(udp.contains(name), "{name} in {udp}");
    }
}

#[test]
fn funkraum_check_accepts_the_packaged_files_and_names_a_bad_key() {
    let run = |file: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_funkraum"))
            .args(["--check", "--config"])
            .arg(file)
            .output()
            .unwrap()
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["image/funkraum.toml", "image/container.toml"] {
        let out = run(&repo.join(file));
        assert!(out.status.success(), "{file}: {out:?}");
    }
    let bad = std::env::temp_dir().join(format!("funkraum-check-{}.toml", std::process::id()));
    std::fs::write(&bad, "[tls]\nmode = \"acme\"\n").unwrap();
    let out = run(&bad);
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tls.domains"), "names the key: {stderr}");
}
