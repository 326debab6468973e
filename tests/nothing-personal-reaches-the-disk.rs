//! Nothing personal is written to disk: during a whole conference the
//! daemon — watched by strace — opens no file for writing outside its
//! runtime directory (RAM) and creates, renames or deletes nothing
//! elsewhere; and no file it could have written holds a canary.

mod common;

use common::daemon::{Daemon, ScratchDir, loopback_config};
use common::{canary, within};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const NICKNAME: &str = "Festplattenmeise Erna";
const ROOM: &str = "plattenraum-0815";
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// Syscalls that create, change or remove a file by name.
const WRITING_CALLS: &str = "trace=open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,\
renameat2,unlink,unlinkat,link,linkat,symlink,symlinkat,truncate,chmod,fchmodat,chown,\
fchownat,lchown,mknod,mknodat";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conference_writes_nothing_personal_to_disk() {
    let started = SystemTime::now();
    let dir = ScratchDir::new("disk");
    let runtime_dir = dir.path().join("run");
    let trace_file = dir.path().join("strace.log");
    let config = loopback_config(&runtime_dir, "");
    let trace_arg = trace_file.display().to_string();
    let daemon = Daemon::start(
        dir.path(),
        &config,
        &["strace", "-f", "-qq", "-e", WRITING_CALLS, "-o", &trace_arg],
    );
    let addr = daemon.http_addr;

    within(Duration::from_secs(60), async {
        let (erna, other) = canary::conference(addr, ROOM, NICKNAME, CLIENT_IP).await;
        // Bad input too: errors are what tempts code to write things down.
        erna.send_raw("{not json");
        erna.send_json(serde_json::json!({"type": "offer", "sdp": "garbage"}));
        tokio::time::sleep(Duration::from_millis(300)).await;
        erna.leave().await;
        other.leave().await;
    })
    .await;
    daemon.stop();

    // 1. What strace saw the daemon write.
    let trace = std::fs::read_to_string(&trace_file).expect("strace wrote its log");
    assert!(
        trace.lines().count() > 5,
        "strace saw almost nothing; is it really tracing?\n{trace}"
    );
    let allowed = |path: &str| {
        path.starts_with(&runtime_dir.display().to_string())
            || path == "/dev/null"
            // The kernel's per-thread attributes tokio/glibc may set.
            || (path.starts_with("/proc/") && !path.contains("/fd/"))
            || path.starts_with("/sys/")
    };
    let mut offenders = Vec::new();
    for line in trace.lines() {
        let Some(path) = written_path(line) else {
            continue;
        };
        if !allowed(&path) {
            offenders.push(line.to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "the daemon wrote outside its runtime directory:\n{}",
        offenders.join("\n")
    );

    // 2. No file the daemon could have written holds a canary: every path
    // strace saw it write (whatever the verdict above), every file of its
    // own directory, and every file owned by the unprivileged user it runs
    // as in the world-writable places, changed during the test.
    let canaries = [NICKNAME, ROOM, &CLIENT_IP.to_string()];
    let mut files: Vec<PathBuf> = trace
        .lines()
        .filter_map(written_path)
        .map(PathBuf::from)
        .collect();
    files.extend(files_changed_since(dir.path(), started, None));
    for place in ["/tmp", "/var/tmp", "/dev/shm", "/var/lib/funkraum"] {
        files.extend(files_changed_since(Path::new(place), started, Some(NOBODY)));
    }
    let mut checked = 0;
    for file in files {
        if file == trace_file || !file.is_file() {
            continue; // strace's own log quotes the syscalls' arguments
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        checked += 1;
        let text = String::from_utf8_lossy(&bytes);
        for canary in canaries {
            assert!(
                !text.contains(canary),
                "{} holds the canary {canary:?}",
                file.display()
            );
        }
    }
    assert!(
        checked >= 1,
        "no changed file looked at (the config at least)"
    );
}

/// The user the daemon becomes (`process.user` falls back to nobody).
const NOBODY: u32 = 65534;

/// The path a traced syscall writes, or `None` for reads and failures.
/// strace lines look like `1234  openat(AT_FDCWD, "/x", O_WRONLY|O_CREAT, 0600) = 3`.
fn written_path(line: &str) -> Option<String> {
    let call_start = line.find(|c: char| c.is_ascii_alphabetic())?;
    let call = &line[call_start..];
    let name = call.split('(').next()?;
    let path = call.split('"').nth(1)?.to_string();
    if call.contains("= -1") {
        return None; // refused by the kernel: nothing written
    }
    let opens = matches!(name, "open" | "openat" | "openat2");
    if opens {
        let writes = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"]
            .iter()
            .any(|f| call.contains(f));
        return writes.then_some(path);
    }
    Some(path)
}

/// Regular files below `dir` changed since `since`, optionally only those
/// owned by `owner`. Bounded: at most 100 000 entries are looked at, so a
/// crowded /tmp on a shared machine cannot stall the test.
fn files_changed_since(dir: &Path, since: SystemTime, owner: Option<u32>) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    let mut budget = 100_000;
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            budget -= 1;
            if budget == 0 {
                return out;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                todo.push(e.path());
            } else if meta.is_file()
                && meta.len() < 16 << 20
                && owner.is_none_or(|o| meta.uid() == o)
                && meta.modified().is_ok_and(|m| m >= since)
            {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn strace_lines_are_read_right() {
    assert_eq!(
        written_path(r#"12  openat(AT_FDCWD, "/x/y", O_WRONLY|O_CREAT|O_TRUNC, 0600) = 3"#),
        Some("/x/y".into())
    );
    assert_eq!(
        written_path(r#"12  openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3"#),
        None
    );
    assert_eq!(
        written_path(r#"12  mkdir("/var/lib/x", 0700) = -1 EACCES (Permission denied)"#),
        None
    );
    assert_eq!(
        written_path(r#"7 rename("/run/a.new", "/run/a") = 0"#),
        Some("/run/a.new".into())
    );
}
