//! The daemon's own error log: every ERROR event with its personal fields,
//! kept in memory and, where a RAM-backed runtime directory exists, in
//! `<runtime dir>/errors.log` for the admin (`funkraum errors`). Entries
//! older than the retention are really deleted: the file is rewritten
//! without them, not marked.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const FILE_NAME: &str = "errors.log";
/// The purge runs at least this often (the promise is "gone after the
/// retention", so the slack is at most this).
pub const PURGE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Entries kept at most; a flood of errors cannot grow memory or tmpfs
/// without bound.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub target: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ErrorLog {
    retention: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: Option<PathBuf>,
    entries: VecDeque<Entry>,
}

impl ErrorLog {
    /// `dir`: a RAM-backed directory for the file, or `None` to keep the
    /// log in memory only.
    pub fn new(dir: Option<&Path>, retention: Duration) -> io::Result<ErrorLog> {
        let file = match dir {
            Some(d) => {
                fs::create_dir_all(d)?;
                fs::set_permissions(d, fs::Permissions::from_mode(0o700))?;
                Some(d.join(FILE_NAME))
            }
            None => None,
        };
        // Entries from an earlier run of the daemon are still within the
        // promise's reach: keep them (the purge drops the old ones).
        let entries = match &file {
            Some(f) => read_entries(f).unwrap_or_default().into(),
            None => VecDeque::new(),
        };
        Ok(ErrorLog {
            retention,
            inner: Mutex::new(Inner { file, entries }),
        })
    }

    pub fn path(&self) -> Option<PathBuf> {
        self.lock().file.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, now: SystemTime, target: &str, message: String) {
        let entry = Entry {
            time: unix_secs(now),
            target: target.to_string(),
            message,
        };
        let mut inner = self.lock();
        inner.entries.push_back(entry.clone());
        if inner.entries.len() > MAX_ENTRIES {
            inner.entries.pop_front();
            // The file must not keep what memory dropped.
            let _ = rewrite(&inner);
            return;
        }
        if let Some(path) = &inner.file {
            let _ = append(path, &entry);
        }
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.iter().cloned().collect()
    }

    /// Deletes entries older than the retention, from memory and file.
    /// Returns how many were deleted.
    pub fn purge(&self, now: SystemTime) -> io::Result<usize> {
        let cutoff = unix_secs(now).saturating_sub(self.retention.as_secs());
        let mut inner = self.lock();
        let before = inner.entries.len();
        inner.entries.retain(|e| e.time >= cutoff);
        let removed = before - inner.entries.len();
        // Rewrite even when nothing was removed from memory: the file may
        // hold lines of an earlier run that memory never had.
        rewrite(&inner)?;
        Ok(removed)
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn open_private(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).mode(0o600);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    o.open(path)
}

fn append(path: &Path, entry: &Entry) -> io::Result<()> {
    let mut line = serde_json::to_string(entry).map_err(io::Error::other)?;
    line.push('\n');
    open_private(path, true)?.write_all(line.as_bytes())
}

/// Writes the surviving entries to a new file and renames it over the old
/// one, so the old lines are gone with the old file's blocks.
fn rewrite(inner: &Inner) -> io::Result<()> {
    let Some(path) = &inner.file else {
        return Ok(());
    };
    let tmp = path.with_extension("log.new");
    {
        let mut f = open_private(&tmp, false)?;
        for e in &inner.entries {
            let mut line = serde_json::to_string(e).map_err(io::Error::other)?;
            line.push('\n');
            f.write_all(line.as_bytes())?;
        }
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Reads an error log file (for `funkraum errors`); unreadable lines are
/// skipped.
pub fn read_entries(path: &Path) -> io::Result<Vec<Entry>> {
    let f = File::open(path)?;
    Ok(BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}

/// `2026-11-30 16:00:00 UTC` without a date library: days since the epoch
/// to a civil date (Howard Hinnant's algorithm).
pub fn format_utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("funkraum-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn purge_deletes_old_entries_from_the_file() {
        let dir = temp_dir("errlog-purge");
        let log = ErrorLog::new(Some(&dir), Duration::from_secs(24 * 3600)).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        log.record(t0, "funkraum::test", "old error about canary-old".into());
        log.record(
            t0 + Duration::from_secs(20 * 3600),
            "funkraum::test",
            "new error about canary-new".into(),
        );
        let path = log.path().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("canary-old") && text.contains("canary-new"));

        // 24 h and one second after the first entry.
        let removed = log.purge(t0 + Duration::from_secs(24 * 3600 + 1)).unwrap();
        assert_eq!(removed, 1);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("canary-old"),
            "old entry still on file: {text}"
        );
        assert!(text.contains("canary-new"));
        assert_eq!(log.entries().len(), 1);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_restart_keeps_recent_entries_and_purges_old_ones() {
        let dir = temp_dir("errlog-restart");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        {
            let log = ErrorLog::new(Some(&dir), Duration::from_secs(3600)).unwrap();
            log.record(t0, "t", "first".into());
        }
        let log = ErrorLog::new(Some(&dir), Duration::from_secs(3600)).unwrap();
        assert_eq!(log.entries().len(), 1);
        log.purge(t0 + Duration::from_secs(7200)).unwrap();
        assert!(read_entries(&log.path().unwrap()).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memory_only_log_purges_too() {
        let log = ErrorLog::new(None, Duration::from_secs(60)).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        log.record(t0, "t", "x".into());
        assert_eq!(log.purge(t0 + Duration::from_secs(61)).unwrap(), 1);
        assert!(log.path().is_none());
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_798_675_200), "2026-12-31 00:00:00 UTC");
        assert_eq!(format_utc(951_825_599), "2000-02-29 11:59:59 UTC");
    }
}
