//! Under systemd (`Type=notify`, `WatchdogSec=`), the daemon says READY=1
//! once it serves, then WATCHDOG=1 at half the watchdog timeout while its
//! media threads answer, and STOPPING=1 when asked to stop. Played here by
//! a test acting as the service manager: a datagram socket in
//! $NOTIFY_SOCKET, as systemd hands it over (a path, or an @abstract name).

mod common;

use common::daemon::{ScratchDir, loopback_config, spawn_with_stdout_lines};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Manager {
    socket: UnixDatagram,
}

impl Manager {
    /// The next notification, waiting at most `within`.
    fn next(&self, within: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 1024];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

/// Starts the binary as systemd would, with `NOTIFY_SOCKET` and a
/// watchdog of `watchdog`; returns it and the address it serves.
fn start_under_manager(
    dir: &ScratchDir,
    notify_socket: &str,
    watchdog: Duration,
) -> (Child, std::net::SocketAddr) {
    let config = dir.path().join("funkraum.toml");
    std::fs::write(
        &config,
        loopback_config(dir.path(), "[process]\nuser = \"nobody\"\n"),
    )
    .unwrap();
    let watchdog_usec = watchdog.as_micros().to_string();
    let (child, lines) = spawn_with_stdout_lines(
        &config,
        &[
            ("NOTIFY_SOCKET", notify_socket),
            ("WATCHDOG_USEC", &watchdog_usec),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("funkraum serves within 30 s");
        if let Some(addr) = line.strip_prefix("funkraum serving http://") {
            break addr.trim().parse().unwrap();
        }
    };
    (child, addr)
}

fn healthz_answers(addr: std::net::SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn ready_once_serving_then_watchdog_pings_then_stopping() {
    let dir = ScratchDir::new("notify-path");
    // Made by root with the default umask: the daemon, which drops to
    // `nobody`, can write to it only because it connected beforehand.
    let path = dir.path().join("notify");
    let manager = Manager {
        socket: UnixDatagram::bind(&path).unwrap(),
    };
    let watchdog = Duration::from_millis(400);
    let (child, addr) = start_under_manager(&dir, path.to_str().unwrap(), watchdog);

    let ready = manager
        .next(Duration::from_secs(10))
        .expect("READY=1 arrives");
    assert!(ready.starts_with("READY=1\nSTATUS=serving"), "{ready:?}");
    assert!(
        healthz_answers(addr),
        "after READY=1, /healthz answers at {addr}"
    );

    // Pings every 200 ms: at least five within two seconds.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_secs(2) {
        if let Some(m) = manager.next(Duration::from_millis(500)) {
            assert_eq!(m, "WATCHDOG=1");
            pings += 1;
        }
    }
    assert!(pings >= 5, "{pings} watchdog pings in 2 s, at 200 ms each");

    stop(child);
    let mut last = String::new();
    while let Some(m) = manager.next(Duration::from_secs(2)) {
        last = m;
        if last == "STOPPING=1" {
            break;
        }
    }
    assert_eq!(last, "STOPPING=1", "the daemon says it is stopping");
}

#[test]
fn an_abstract_notify_socket_works_too() {
    use std::os::linux::net::SocketAddrExt;
    let dir = ScratchDir::new("notify-abstract");
    let name = format!("funkraum-test-notify-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let manager = Manager {
        socket: UnixDatagram::bind_addr(&address).unwrap(),
    };
    let (child, _addr) = start_under_manager(&dir, &format!("@{name}"), Duration::from_secs(1));
    let ready = manager.next(Duration::from_secs(10)).expect("READY=1");
    assert!(ready.starts_with("READY=1"), "{ready:?}");
    assert_eq!(
        manager.next(Duration::from_secs(5)).as_deref(),
        Some("WATCHDOG=1")
    );
    stop(child);
}
