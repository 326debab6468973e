//! The real `funkraum` binary as a child process, for tests about what the
//! process does to itself and what it emits (logs, files) — things an
//! in-process server cannot show.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A RAM-backed scratch directory (under /dev/shm), removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(name: &str) -> ScratchDir {
        let dir = PathBuf::from(format!(
            "/dev/shm/funkraum-test-{name}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir in /dev/shm");
        ScratchDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::time::SystemTime;
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

pub struct Daemon {
    child: Child,
    pub pid: u32,
    pub http_addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

/// The binary under test (built by cargo for integration tests).
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_funkraum")
}

impl Daemon {
    /// Starts `funkraum --config <dir>/funkraum.toml` with `config` as the
    /// file, waiting for it to serve. `wrapper` runs it under another
    /// program (e.g. `strace`, `unshare`) when not empty.
    pub fn start(dir: &Path, config: &str, wrapper: &[&str]) -> Daemon {
        let config_path = dir.join("funkraum.toml");
        std::fs::write(&config_path, config).expect("write test config");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary());
                c
            }
            None => Command::new(binary()),
        };
        command
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the funkraum binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let served = funkraum::server::watch_for_serving(child.stdout.take().unwrap());
        let url = served
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "funkraum did not start within 30 s; stderr:\n{}",
                    stderr.lock().unwrap()
                )
            });
        let pid = find_funkraum_pid(child.id());
        Daemon {
            child,
            pid,
            http_addr: url
                .strip_prefix("http://")
                .and_then(|a| a.parse().ok())
                .expect("served over HTTP at an address"),
            stderr,
        }
    }

    /// Everything the daemon wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits (at most 10 s) for the process to end.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Give the reader thread a moment to drain the pipe.
        std::thread::sleep(Duration::from_millis(100));
        self.stderr()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pid of the funkraum process: the child itself, or (under a wrapper
/// like strace or unshare) its descendant named funkraum.
fn find_funkraum_pid(root: u32) -> u32 {
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "funkraum" {
            return pid;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        todo.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    panic!("no funkraum process below pid {root}");
}

/// Starts `funkraum --config <config_path>` with `env` added and stderr
/// discarded; returns the child and its stdout, line by line (read to the
/// end in a thread, also when nobody receives any more).
pub fn spawn_with_stdout_lines(
    config_path: &Path,
    env: &[(&str, &str)],
) -> (Child, Receiver<String>) {
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(config_path)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the funkraum binary");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// A config on loopback with free ports, error log in `runtime_dir`.
pub fn loopback_config(runtime_dir: &Path, extra: &str) -> String {
    format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n\n[media]\nport = 0\naddresses = [\"127.0.0.1\"]\n\n\
         [log]\noutput = \"stderr\"\nruntime_dir = \"{}\"\n\n{extra}",
        runtime_dir.display()
    )
}
