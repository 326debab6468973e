//! A stand-in for journald: the daemon runs in a mount namespace where
//! /run/systemd/journal/socket is a socket of the test's, and everything
//! it sends through tracing-journald is collected here, in journald's
//! native format.

use std::collections::BTreeMap;
use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One journal entry: field name → value.
pub type Record = BTreeMap<String, String>;

pub struct FakeJournald {
    dir: PathBuf,
    records: Arc<Mutex<Vec<Record>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeJournald {
    /// Listens at `<dir>/socket`.
    pub fn start(dir: &Path) -> FakeJournald {
        std::fs::create_dir_all(dir).unwrap();
        let socket = UnixDatagram::bind(dir.join("socket")).expect("bind the journal socket");
        // Like journald's: anyone may log (the daemon drops root).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("socket"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (sink, stopped) = (records.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(payload) = receive(&socket, &mut buf)
                    && !payload.is_empty()
                {
                    sink.lock().unwrap().push(parse(&payload));
                }
            }
        });
        FakeJournald {
            dir: dir.to_path_buf(),
            records,
            stop,
        }
    }

    /// The argv prefix that runs a program with our socket in place of
    /// journald's (needs root for the mount namespace).
    pub fn wrapper(&self) -> Vec<String> {
        let script = format!(
            "mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && \
             mkdir /run/systemd/journal && mount --bind {} /run/systemd/journal && \
             exec \"$0\" \"$@\"",
            self.dir.display()
        );
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    pub fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }
}

impl Drop for FakeJournald {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One datagram, or the contents of the memfd passed with it (journald's
/// protocol for entries too large for a datagram).
fn receive(socket: &UnixDatagram, buf: &mut [u8]) -> Option<Vec<u8>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .ok()?;
    let mut passed = None;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                passed = std::fs::read(format!("/proc/self/fd/{fd}")).ok();
                let _ = nix::unistd::close(fd);
            }
        }
    }
    let len = msg.bytes;
    passed.or_else(|| Some(buf[..len].to_vec()))
}

/// journald's native format: `KEY=value\n`, or for values with newlines
/// `KEY\n<u64 little-endian length><value>\n`.
fn parse(payload: &[u8]) -> Record {
    let mut record = Record::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..line_end];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            record.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            rest = rest.get(line_end + 1..).unwrap_or(&[]);
        } else {
            let key = String::from_utf8_lossy(line).into_owned();
            let after = rest.get(line_end + 1..).unwrap_or(&[]);
            if after.len() < 8 {
                break;
            }
            let len = u64::from_le_bytes(after[..8].try_into().unwrap()) as usize;
            let value = after.get(8..8 + len).unwrap_or(&[]);
            record.insert(key, String::from_utf8_lossy(value).into_owned());
            rest = after.get(8 + len + 1..).unwrap_or(&[]);
        }
    }
    record
}

/// The whole entry as one text, for searching.
pub fn text(record: &Record) -> String {
    record
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_both_field_forms() {
        let mut p = b"MESSAGE=hi\nPRIORITY=3\nF_X\n".to_vec();
        p.extend_from_slice(&5u64.to_le_bytes());
        p.extend_from_slice(b"a\nb c\nTARGET=t\n");
        let r = super::parse(&p);
        assert_eq!(r["MESSAGE"], "hi");
        assert_eq!(r["F_X"], "a\nb c");
        assert_eq!(r["TARGET"], "t");
    }
}
