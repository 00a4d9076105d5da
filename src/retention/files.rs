//! The rotated-log-files policy: `<dir>/<stem>.<n>.gz` files (what
//! `telemetry::rotate` leaves) whose last change is older than the keep are
//! deleted; the live log file is never touched.

use std::path::Path;
use std::time::UNIX_EPOCH;

use super::repo::Figures;

/// The rotated files of `stem` in `dir`, with their size and mtime (Unix ms).
fn rotated(dir: &Path, stem: &str) -> Vec<(std::path::PathBuf, u64, i64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{stem}.");
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let n = name.strip_prefix(&prefix)?.strip_suffix(".gz")?;
            n.parse::<u32>().ok()?;
            let meta = entry.metadata().ok().filter(|m| m.is_file())?;
            let mtime = meta
                .modified()
                .ok()?
                .duration_since(UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_millis()).ok())?;
            Some((entry.path(), meta.len(), mtime))
        })
        .collect()
}

/// Deletes the rotated files last changed before `before_ms`; returns how many.
pub fn prune(dir: &Path, stem: &str, before_ms: i64) -> usize {
    rotated(dir, stem)
        .into_iter()
        .filter(|(_, _, mtime)| *mtime < before_ms)
        .filter(|(path, _, _)| match std::fs::remove_file(path) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot delete an old log file");
                false
            }
        })
        .count()
}

/// How many rotated files there are, their bytes and the oldest's mtime.
pub fn figures(dir: &Path, stem: &str) -> Figures {
    let files = rotated(dir, stem);
    Figures {
        rows: i64::try_from(files.len()).unwrap_or(i64::MAX),
        bytes: files
            .iter()
            .map(|(_, len, _)| i64::try_from(*len).unwrap_or(i64::MAX))
            .sum(),
        bytes_exact: true,
        oldest_ms: files.iter().map(|(_, _, mtime)| *mtime).min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn only_old_rotated_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(20 * 86_400);
        for name in [
            "w.log.1.gz",
            "w.log.2.gz",
            "w.log",
            "w.log.x.gz",
            "other.1.gz",
        ] {
            std::fs::write(dir.path().join(name), b"line\n").unwrap();
        }
        for name in ["w.log.2.gz", "w.log", "w.log.x.gz", "other.1.gz"] {
            let file = std::fs::File::options()
                .write(true)
                .open(dir.path().join(name))
                .unwrap();
            file.set_modified(old).unwrap();
        }
        assert_eq!(figures(dir.path(), "w.log").rows, 2);
        let cutoff = crate::clock::now_ms() - 14 * 86_400_000;
        assert_eq!(prune(dir.path(), "w.log", cutoff), 1);
        assert!(!dir.path().join("w.log.2.gz").exists());
        for kept in ["w.log.1.gz", "w.log", "w.log.x.gz", "other.1.gz"] {
            assert!(dir.path().join(kept).exists(), "{kept}");
        }
        let left = figures(dir.path(), "w.log");
        assert_eq!((left.rows, left.bytes), (1, 5));
    }
}
