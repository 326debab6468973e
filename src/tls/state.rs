//! The state directory: the only files funkraum writes. They hold keys and
//! certificates, never anything about participants.
//!
//! Layout under `tls.state_dir`:
//! ```text
//! acme/<directory>/account.json   ACME account (URL and key)
//! acme/<directory>/cert.pem       certificate chain from the CA
//! acme/<directory>/key.pem        its private key
//! self-signed/cert.pem, key.pem   the self-signed certificate and key
//! ```
//! Directories are 0700, files 0600; files are replaced atomically (written
//! to a temporary name, synced, renamed), so a crash never leaves half a key.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A directory funkraum owns (0700).
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Opens (creating when missing) `path` with mode 0700; an existing
    /// directory is tightened to 0700.
    pub fn open(path: &Path) -> io::Result<StateDir> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        Ok(StateDir {
            path: path.to_owned(),
        })
    }

    /// A subdirectory (0700), created when missing.
    pub fn sub(&self, name: &str) -> io::Result<StateDir> {
        StateDir::open(&self.path.join(name))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The content of `name`, or `None` when there is no such file.
    pub fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces `name` atomically with `bytes` (mode 0600).
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.path.join(name);
        let temporary = self.path.join(format!(".{name}.new"));
        let _ = fs::remove_file(&temporary);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, &target)?;
        // Make the rename itself durable.
        fs::File::open(&self.path)?.sync_all()
    }

    /// Writes several files; each is atomic, and they are written in order,
    /// so write the one that makes the set valid (the certificate) last.
    pub fn write_all(&self, files: &[(&str, &[u8])]) -> io::Result<()> {
        for (name, bytes) in files {
            self.write(name, bytes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn directories_are_0700_and_files_0600() {
        let root = std::env::temp_dir().join(format!("funkraum-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let dir = StateDir::open(&root).unwrap();
        let sub = dir.sub("acme").unwrap();
        sub.write("key.pem", b"secret").unwrap();
        sub.write("key.pem", b"newer").unwrap();
        assert_eq!(fs::metadata(&root).unwrap().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(sub.path()).unwrap().mode() & 0o777, 0o700);
        let file = sub.path().join("key.pem");
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(sub.read("key.pem").unwrap().unwrap(), b"newer");
        assert_eq!(sub.read("missing").unwrap(), None);
        fs::remove_dir_all(&root).unwrap();
    }
}
