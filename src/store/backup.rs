//! `watchpost backup FILE`: a consistent copy of the live database through
//! SQLite's online backup API, safe while Watchpost is serving, then checked
//! with `PRAGMA integrity_check`. The copy is created `0600` and never
//! overwrites an existing file.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{StoreError, open_fresh_reader};

/// Pages copied per step; small enough that a busy writer is not starved.
const PAGES_PER_STEP: std::ffi::c_int = 256;

#[derive(Debug, Clone, Copy)]
pub struct BackupProgress {
    pub copied_pages: u64,
    pub total_pages: u64,
}

pub fn backup(
    source: &Path,
    dest: &Path,
    mut progress: impl FnMut(BackupProgress),
) -> Result<(), StoreError> {
    if !source.is_file() {
        return Err(io_error(
            format!("no database at {}", source.display()),
            std::io::ErrorKind::NotFound.into(),
        ));
    }
    if dest.exists() {
        return Err(io_error(
            format!("{} already exists; choose a new file name", dest.display()),
            std::io::ErrorKind::AlreadyExists.into(),
        ));
    }
    let src = open_fresh_reader(source)?;
    let mut dst = Connection::open_with_flags(
        dest,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let p = backup.progress();
            let total = u64::try_from(p.pagecount).unwrap_or(0);
            let remaining = u64::try_from(p.remaining).unwrap_or(0);
            progress(BackupProgress {
                copied_pages: total.saturating_sub(remaining),
                total_pages: total,
            });
            match step {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    // The copy is a standalone file: fold any WAL back in and verify it.
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    let verdict: String = dst.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    if verdict != "ok" {
        return Err(io_error(
            format!(
                "the copy at {} failed integrity_check: {verdict}",
                dest.display()
            ),
            std::io::ErrorKind::InvalidData.into(),
        ));
    }
    Ok(())
}

fn io_error(context: String, source: std::io::Error) -> StoreError {
    StoreError::Io { context, source }
}
