//! The configuration files that ship in the Debian package, the disk image
//! (image/funkraum.toml) and the OCI image (image/container.toml) start the
//! current daemon, and the firewall of the appliance (nftables/funkraum.nft)
//! opens the ports the packaged file uses.

use funkraum::Config;
use std::path::Path;

fn load(file: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_packaged_configs_are_accepted() {
    let packaged = load("image/funkraum.toml");
    assert!(
        packaged.http.listen.ip().is_unspecified(),
        "the appliance serves the network: {}",
        packaged.http.listen
    );
    let container = load("image/container.toml");
    assert!(
        container.http.listen.port() >= 1024,
        "the container runs unprivileged: {}",
        container.http.listen
    );
}

#[test]
fn the_firewall_opens_the_packaged_ports() {
    let packaged = load("image/funkraum.toml");
    let nft = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("nftables/funkraum.nft"),
    )
    .unwrap();
    assert!(
        nft.contains(&format!("define media_port = {}\n", packaged.media.port)),
        "nftables/funkraum.nft opens media.port {}",
        packaged.media.port
    );
    let tcp_rule = nft
        .lines()
        .find(|l| l.trim_start().starts_with("tcp dport {"))
        .expect("a tcp dport rule");
    let port = packaged.http.listen.port().to_string();
    assert!(
        tcp_rule.contains(&format!("{{ {port},")) || tcp_rule.contains(&format!(" {port},")),
        "http.listen port {port} is open: {tcp_rule}"
    );
}
