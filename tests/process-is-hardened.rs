//! The running daemon cannot leak its memory: no core dumps, not dumpable
//! (so not ptrace-able by other users, /proc/PID files owned by root), and
//! no root privileges once its ports are bound.

mod common;

use common::daemon::{Daemon, ScratchDir, loopback_config};

fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
fn the_running_daemon_is_hardened() {
    let dir = ScratchDir::new("hardening");
    let config = loopback_config(dir.path(), "[process]\nuser = \"nobody\"\n");
    let daemon = Daemon::start(dir.path(), &config, &[]);
    let pid = daemon.pid;

    // Core dumps: soft and hard limit 0.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core limit listed");
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "core limit: {core}");

    // Not dumpable: the kernel then gives /proc/PID's files to root, even
    // though the process runs as another user.
    let uid = status_field(pid, "Uid");
    let real_uid: u32 = uid.split_whitespace().next().unwrap().parse().unwrap();
    let we_are_root = status_field(std::process::id(), "Uid").starts_with("0\t");
    if we_are_root {
        assert_ne!(
            real_uid, 0,
            "started as root, the daemon must drop root: Uid {uid}"
        );
        assert!(
            uid.split_whitespace().all(|u| u != "0"),
            "no root uid left (real, effective, saved, fs): {uid}"
        );
    }
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(format!("/proc/{pid}/status"))
        .unwrap()
        .uid();
    assert_eq!(
        owner, 0,
        "/proc/{pid}/status belongs to uid {owner}: the process is dumpable"
    );
    assert_ne!(real_uid, 0, "the dumpable check needs a non-root daemon");

    let stderr = daemon.stop();
    assert!(
        stderr.contains("core_dumps_off=true") && stderr.contains("not_dumpable=true"),
        "{stderr}"
    );
}
