//! What the process does to itself so that memory cannot leak to disk or
//! to other users: no core dumps, not dumpable (no ptrace, /proc/PID owned
//! by root), memory locked against swap where allowed, a private umask, and
//! no root privileges once the ports are bound.

pub mod notify;

use crate::config::ProcessConfig;
use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Uid, User, chown, geteuid, setgid, setgroups, setuid};
use std::path::Path;

/// What was achieved, for the start-up log line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hardening {
    pub core_dumps_off: bool,
    pub not_dumpable: bool,
    pub memory_locked: bool,
    /// Why memory is not locked, when it is not.
    pub memory_lock_problem: Option<String>,
}

/// Applied first thing in `main`, before any personal data exists.
pub fn harden_process(config: &ProcessConfig) -> Hardening {
    umask(Mode::from_bits_truncate(0o077));
    let core_dumps_off = setrlimit(Resource::RLIMIT_CORE, 0, 0).is_ok();
    let not_dumpable = nix::sys::prctl::set_dumpable(false).is_ok();
    let (memory_locked, memory_lock_problem) = if config.lock_memory {
        match lock_memory() {
            Ok(()) => (true, None),
            Err(why) => (false, Some(why)),
        }
    } else {
        (false, Some("process.lock_memory is off".into()))
    };
    Hardening {
        core_dumps_off,
        not_dumpable,
        memory_locked,
        memory_lock_problem,
    }
}

/// Locks current and future memory. Only with an unlimited RLIMIT_MEMLOCK:
/// with `MCL_FUTURE` under a finite limit, the allocation that crosses it
/// would fail and abort the daemon.
fn lock_memory() -> Result<(), String> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_MEMLOCK).map_err(|e| format!("getrlimit: {e}"))?;
    if soft != RLIM_INFINITY {
        // Root (or CAP_SYS_RESOURCE) may lift the hard limit; others may
        // raise soft to hard.
        let target = if geteuid().is_root() {
            RLIM_INFINITY
        } else {
            hard
        };
        let _ = setrlimit(Resource::RLIMIT_MEMLOCK, target, target.max(hard));
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_MEMLOCK).map_err(|e| format!("getrlimit: {e}"))?;
    if soft != RLIM_INFINITY {
        return Err(format!(
            "RLIMIT_MEMLOCK is {soft} bytes; set LimitMEMLOCK=infinity (the packaged unit does)"
        ));
    }
    use nix::sys::mman::{MlockAllFlags, mlockall};
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE)
        .map_err(|e| format!("mlockall: {e}"))
}

/// When running as root, becomes `config.user` (or `nobody`), first giving
/// `hand_over` (directories the daemon keeps writing to, and their files)
/// to that user. Call after every privileged port is bound. Returns the
/// user name now in effect.
pub fn drop_privileges(
    config: &ProcessConfig,
    hand_over: &[&Path],
) -> Result<Option<String>, String> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    let user = match User::from_name(&config.user) {
        Ok(Some(u)) => u,
        _ => User::from_name("nobody")
            .ok()
            .flatten()
            .ok_or_else(|| format!("process.user: neither {:?} nor nobody exists", config.user))?,
    };
    if user.uid == Uid::from_raw(0) {
        return Err("process.user: refusing to stay root".into());
    }
    for dir in hand_over {
        chown_tree(dir, user.uid, user.gid)
            .map_err(|e| format!("cannot hand {} to {}: {e}", dir.display(), user.name))?;
    }
    setgroups(&[user.gid]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(user.gid).map_err(|e| format!("setgid: {e}"))?;
    setuid(user.uid).map_err(|e| format!("setuid: {e}"))?;
    // Changing credentials resets the dumpable flag; set it again.
    let _ = nix::sys::prctl::set_dumpable(false);
    Ok(Some(user.name))
}

/// A directory and everything below it (the TLS state has subdirectories).
/// Symbolic links are changed themselves, never followed.
fn chown_tree(dir: &Path, uid: Uid, gid: Gid) -> std::io::Result<()> {
    chown(dir, Some(uid), Some(gid))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            chown_tree(&path, uid, gid)?;
        } else {
            std::os::unix::fs::lchown(&path, Some(uid.as_raw()), Some(gid.as_raw()))?;
        }
    }
    Ok(())
}
