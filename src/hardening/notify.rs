//! systemd's service notification protocol (sd_notify(3)) without libsystemd:
//! one datagram of `KEY=value` lines to the unix socket named in
//! `$NOTIFY_SOCKET`. A path starting with `@` is in the abstract namespace.
//!
//! The unit is `Type=notify` with `WatchdogSec=`: systemd counts the service
//! as started only after `READY=1` (sent once every port is bound), and
//! restarts it when no `WATCHDOG=1` arrives for `WatchdogSec`. The daemon
//! sends one only after every media thread has answered a ping, so a hung
//! media loop or a stalled async runtime leads to a restart.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
    name: OsString,
}

impl Notifier {
    /// The notifier for `$NOTIFY_SOCKET`, or `None` when the daemon was not
    /// started by a service manager that listens.
    ///
    /// Call before dropping privileges: the socket is connected here, and
    /// after the switch the new user may lack write access to its path.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(name) if !name.is_empty() => Notifier::connect(&name).map(Some),
            _ => Ok(None),
        }
    }

    /// Connects to the socket `name`: a file system path, or `@name` for
    /// the abstract namespace.
    pub fn connect(name: &OsStr) -> io::Result<Notifier> {
        let address = socket_address(name)?;
        let socket = UnixDatagram::unbound()?;
        socket.connect_addr(&address)?;
        Ok(Notifier {
            socket,
            address,
            name: name.to_owned(),
        })
    }

    /// Sends one notification (`state` holds `KEY=value` lines).
    pub fn notify(&self, state: &str) -> io::Result<()> {
        match self.socket.send(state.as_bytes()) {
            Ok(_) => Ok(()),
            // The manager re-created its socket (e.g. after a re-exec):
            // send once more on a fresh one.
            Err(_) => {
                let fresh = UnixDatagram::unbound()?;
                fresh.send_to_addr(state.as_bytes(), &self.address)?;
                Ok(())
            }
        }
    }

    /// Every port is bound and the service is serving.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.notify(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// The service is healthy (resets the watchdog timer).
    pub fn watchdog(&self) -> io::Result<()> {
        self.notify("WATCHDOG=1")
    }

    /// A line for `systemctl status`.
    pub fn status(&self, status: &str) -> io::Result<()> {
        self.notify(&format!("STATUS={}", one_line(status)))
    }

    /// The service is shutting down.
    pub fn stopping(&self) -> io::Result<()> {
        self.notify("STOPPING=1")
    }

    /// The socket as given in `$NOTIFY_SOCKET`, for log lines.
    pub fn name(&self) -> &OsStr {
        &self.name
    }
}

fn socket_address(name: &OsStr) -> io::Result<SocketAddr> {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(b'@') => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(&bytes[1..])
        }
        Some(b'/') => SocketAddr::from_pathname(name),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither an absolute path nor an @abstract name",
        )),
    }
}

/// STATUS= ends at the line break.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, if the
/// service manager asked this process for it. `None`: no watchdog.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    keepalive_interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// The rule of sd_watchdog_enabled(3): `usec` must be a positive number,
/// and `pid`, when set, must be this process. Pinging at half the timeout
/// leaves room for one late or failed round.
fn keepalive_interval(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok()? != own_pid
    {
        return None;
    }
    Some(Duration::from_micros(usec) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::linux::net::SocketAddrExt;

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("a notification arrives");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn notifications_reach_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("funkraum-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let manager = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::connect(path.as_os_str()).unwrap();
        notifier.ready("serving on\nport 8080").unwrap();
        assert_eq!(receive(&manager), "READY=1\nSTATUS=serving on port 8080");
        notifier.watchdog().unwrap();
        assert_eq!(receive(&manager), "WATCHDOG=1");
        notifier.stopping().unwrap();
        assert_eq!(receive(&manager), "STOPPING=1");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn notifications_reach_an_abstract_socket() {
        let name = format!("funkraum-notify-test-{}", std::process::id());
        let manager =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let notifier = Notifier::connect(OsStr::new(&format!("@{name}"))).unwrap();
        notifier.watchdog().unwrap();
        assert_eq!(receive(&manager), "WATCHDOG=1");
    }

    #[test]
    fn a_relative_socket_name_is_refused() {
        assert!(Notifier::connect(OsStr::new("notify")).is_err());
    }

    #[test]
    fn the_watchdog_runs_at_half_the_timeout_for_this_process_only() {
        let half = Some(Duration::from_secs(15));
        assert_eq!(keepalive_interval(Some("30000000"), None, 7), half);
        assert_eq!(keepalive_interval(Some("30000000"), Some("7"), 7), half);
        assert_eq!(keepalive_interval(Some("30000000"), Some("8"), 7), None);
        assert_eq!(keepalive_interval(Some("0"), None, 7), None);
        assert_eq!(keepalive_interval(Some("soon"), None, 7), None);
        assert_eq!(keepalive_interval(None, Some("7"), 7), None);
    }
}
