//! Where the error log may live: only in a RAM-backed directory, so that
//! personal data in error events never reaches a disk.

use std::path::{Path, PathBuf};

/// Where the packaged unit's runtime directory is, for `funkraum errors`
/// run by an admin outside the service.
pub const SYSTEMD_RUNTIME_DIR: &str = "/run/funkraum";

/// The directory to use: `configured` if set, else systemd's
/// `RUNTIME_DIRECTORY`, else `$XDG_RUNTIME_DIR/funkraum`.
pub fn choose(configured: &str) -> Option<PathBuf> {
    if !configured.is_empty() {
        return Some(PathBuf::from(configured));
    }
    if let Some(dirs) = std::env::var_os("RUNTIME_DIRECTORY") {
        // systemd passes a colon-separated list; ours has one entry.
        let first = dirs.to_string_lossy().split(':').next().map(PathBuf::from);
        if first.is_some() {
            return first;
        }
    }
    std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("funkraum"))
}

/// Whether `dir` (or, if it does not exist yet, its nearest existing
/// ancestor) is on tmpfs or ramfs.
pub fn is_ram_backed(dir: &Path) -> bool {
    use nix::sys::statfs::{FsType, TMPFS_MAGIC, statfs};
    // nix names no constant for ramfs; the kernel's is 0x858458f6.
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    let mut probe = Some(dir);
    while let Some(p) = probe {
        if p.exists() {
            return statfs(p)
                .map(|s| {
                    let t = s.filesystem_type();
                    t == TMPFS_MAGIC || t == RAMFS_MAGIC
                })
                .unwrap_or(false);
        }
        probe = p.parent();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_shm_is_ram_and_the_crate_dir_is_not_assumed_to_be() {
        assert!(is_ram_backed(Path::new("/dev/shm")));
        assert!(is_ram_backed(Path::new("/dev/shm/does/not/exist/yet")));
        assert!(
            !is_ram_backed(Path::new("/nonexistent-root-entry")) || is_ram_backed(Path::new("/"))
        );
    }

    #[test]
    fn configured_wins() {
        assert_eq!(choose("/dev/shm/x"), Some(PathBuf::from("/dev/shm/x")));
    }
}
