//! Follows one log file the way `tail -F` does, across rotations. A reader
//! stands at a [`Position`] (inode + offset after the last complete line handed
//! out), so a caller that stores positions resumes after a restart without
//! re-reading or skipping a line, even if the file was rotated (renamed to
//! `<name>.1`, `<name>-YYYYMMDD`, …) meanwhile. Rename-and-create: the old file
//! is finished before the new one is read from 0. Copytruncate (same inode, now
//! shorter than our offset): restart at 0; a truncation followed by enough
//! writes to pass our offset before the next poll cannot be told from growth.
//!
//! It only opens files for reading: it must never write, create, truncate or
//! delete a log, never hold more than one line (at most [`MAX_LINE`] bytes)
//! in memory per file, and never hand out a partial line that may still grow.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Where a reader stands in one file: inode + byte offset after the last
/// complete line returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub inode: u64,
    pub offset: u64,
}

/// The longest line handed out, in bytes; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 16 * 1024;

/// Bytes read per system call.
const CHUNK: usize = 32 * 1024;

/// Rotated siblings with these endings are compressed: never the file we were
/// reading, even if the file system reused its inode number.
const COMPRESSED: [&str; 5] = [".gz", ".xz", ".bz2", ".zst", ".lz4"];

/// A file that exists but cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("cannot read {}: {error}; {}", .path.display(), advice(.error))]
    Unreadable { path: PathBuf, error: io::Error },
}

fn advice(error: &io::Error) -> &'static str {
    if error.kind() == io::ErrorKind::PermissionDenied {
        "give the watchpost user read access, e.g. add it to the adm group"
    } else {
        "check that the path names a regular file the watchpost user can read"
    }
}

/// Where to begin when the file is first opened.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// At the current end: a new source does not replay history.
    End,
    /// At byte 0: the file appeared (or replaced a rotated one) after we started.
    Beginning,
    /// At a stored position, looking for its inode among rotated siblings.
    Resume(Position),
}

/// Follows one path; see the module documentation.
pub struct Tailer {
    path: PathBuf,
    start: Start,
    current: Option<Reader>,
    last: Option<Position>,
}

impl Tailer {
    /// `start`: a stored position to resume from (None = start at the current
    /// end of the file, so a new source does not replay history).
    pub fn new(path: PathBuf, start: Option<Position>) -> Tailer {
        Tailer {
            path,
            start: start.map_or(Start::End, Start::Resume),
            current: None,
            last: start,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads up to `max_lines` complete new lines (without the trailing
    /// `\n`/`\r\n`, invalid UTF-8 replaced lossily, truncated to [`MAX_LINE`]
    /// bytes). Blocking I/O: run it on `spawn_blocking`. A missing file gives
    /// `Ok(empty)`; `Err` only for a file that exists but cannot be read. The
    /// unterminated last line of a file that was rotated away is dropped: its
    /// writer has moved on to the new file.
    pub fn poll(&mut self, max_lines: usize) -> Result<Vec<String>, TailError> {
        let mut lines = Vec::new();
        if max_lines == 0 {
            return Ok(lines);
        }
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(unreadable(&self.path, error)),
        };
        // A file opened at the path in this poll is the path's file, even if the
        // path was replaced after the stat above; at most one switch per poll.
        let mut fresh = self.current.is_none();
        if fresh {
            self.current = self.open_first(meta.as_ref())?;
            if self.current.is_none() && matches!(self.start, Start::End) {
                self.start = Start::Beginning;
            }
        }
        while let Some(reader) = self.current.as_mut() {
            let same = meta.as_ref().is_some_and(|m| m.ino() == reader.inode);
            if same && meta.as_ref().is_some_and(|m| m.len() < reader.read_pos()) {
                reader.restart();
            }
            let at_end = match reader.read_lines(&mut lines, max_lines) {
                Ok(at_end) => at_end,
                Err(error) if lines.is_empty() => return Err(unreadable(&reader.path, error)),
                // Hand out what was read; the error comes back on the next poll.
                Err(_) => false,
            };
            self.last = Some(Position {
                inode: reader.inode,
                offset: reader.offset,
            });
            if same || (fresh && reader.path == self.path) || !at_end || meta.is_none() {
                break;
            }
            // Rotated away and read to its end: follow the path to its new file.
            self.current = None;
            self.start = Start::Beginning;
            match self.open_first(meta.as_ref()) {
                Ok(next) => (self.current, fresh) = (next, true),
                Err(e) if lines.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(lines)
    }

    /// The position after the last line returned by poll (None if the file
    /// has never been opened; the stored start position until it is).
    pub fn position(&self) -> Option<Position> {
        self.last
    }

    /// Opens the file to read first, according to `start`; None if missing.
    fn open_first(&self, meta: Option<&Metadata>) -> Result<Option<Reader>, TailError> {
        match self.start {
            Start::Beginning => Reader::open(&self.path, Some(0)),
            Start::End => Reader::open(&self.path, None),
            Start::Resume(pos) => {
                if meta.is_some_and(|m| m.ino() == pos.inode)
                    && let Some(reader) = Reader::open(&self.path, Some(pos.offset))?
                    && reader.inode == pos.inode
                {
                    return Ok(Some(reader));
                }
                if let Some(old) = find_by_inode(&self.path, pos.inode, pos.offset)
                    && let Some(reader) = Reader::open(&old, Some(pos.offset))?
                    && reader.inode == pos.inode
                {
                    return Ok(Some(reader));
                }
                // The stored file is gone: everything at the path is new.
                Reader::open(&self.path, Some(0))
            }
        }
    }
}

fn unreadable(path: &Path, error: io::Error) -> TailError {
    TailError::Unreadable {
        path: path.to_path_buf(),
        error,
    }
}

/// Finds the rotated sibling of `path` (any uncompressed file in the same
/// directory whose name starts with the base name) that has `inode` and is at
/// least `min_len` bytes long.
fn find_by_inode(path: &Path, inode: u64, min_len: u64) -> Option<PathBuf> {
    let base = path.file_name()?.as_bytes();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::read_dir(dir).ok()?.flatten().find_map(|entry| {
        let name = entry.file_name();
        let name = name.as_bytes();
        if name.len() <= base.len()
            || !name.starts_with(base)
            || COMPRESSED.iter().any(|ext| name.ends_with(ext.as_bytes()))
        {
            return None;
        }
        let meta = entry.metadata().ok()?;
        (meta.is_file() && meta.ino() == inode && meta.len() >= min_len).then(|| entry.path())
    })
}

/// One open file and the line being assembled in it.
struct Reader {
    file: File,
    path: PathBuf,
    inode: u64,
    /// After the last complete line handed out.
    offset: u64,
    /// The start of the incomplete line after `offset`, at most MAX_LINE + 1 bytes.
    pending: Vec<u8>,
    /// The full length of that incomplete line read so far.
    pending_len: u64,
    /// The incomplete line is dropped when it completes (it began before we started).
    discard: bool,
}

impl Reader {
    /// Opens `path` at `offset` (0 if the file is now shorter; None: at its
    /// end, skipping a line still being written there); None if missing.
    fn open(path: &Path, offset: Option<u64>) -> Result<Option<Reader>, TailError> {
        let mut last = [b'\n'];
        let opened = File::open(path).and_then(|file| {
            let meta = file.metadata()?;
            if offset.is_none() && meta.len() > 0 {
                file.read_exact_at(&mut last, meta.len() - 1)?;
            }
            Ok((meta, file))
        });
        let (meta, file) = match opened {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(unreadable(path, error)),
        };
        Ok(Some(Reader {
            file,
            path: path.to_path_buf(),
            inode: meta.ino(),
            offset: offset.map_or(meta.len(), |o| if o <= meta.len() { o } else { 0 }),
            pending: Vec::new(),
            pending_len: 0,
            discard: last[0] != b'\n',
        }))
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.pending.clear();
        self.pending_len = 0;
        self.discard = false;
    }

    fn read_pos(&self) -> u64 {
        self.offset + self.pending_len
    }

    /// Appends complete lines to `out` until it holds `max` or the file ends;
    /// true when the end of the file was reached.
    fn read_lines(&mut self, out: &mut Vec<String>, max: usize) -> io::Result<bool> {
        let mut buf = vec![0u8; CHUNK];
        while out.len() < max {
            let n = match self.file.read_at(&mut buf, self.read_pos()) {
                Ok(0) => return Ok(true),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut rest = buf.get(..n).unwrap_or_default();
            while let Some(i) = rest.iter().position(|&b| b == b'\n') {
                let (line, tail) = rest.split_at(i);
                self.take(line);
                self.offset += self.pending_len + 1;
                self.pending_len = 0;
                if !std::mem::take(&mut self.discard) {
                    out.push(finish(&self.pending));
                }
                self.pending.clear();
                rest = tail.get(1..).unwrap_or_default();
                if out.len() >= max {
                    return Ok(false);
                }
            }
            self.take(rest);
        }
        Ok(false)
    }

    /// Adds bytes of the incomplete line, keeping only what a line may hold.
    fn take(&mut self, bytes: &[u8]) {
        self.pending_len += bytes.len() as u64;
        let room = (MAX_LINE + 1).saturating_sub(self.pending.len());
        self.pending
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
    }
}

/// A complete line as text: `\r` stripped, at most MAX_LINE bytes.
fn finish(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = &line[..line.len().min(MAX_LINE)];
    let mut text = String::from_utf8_lossy(line).into_owned();
    // A multi-byte character cut in half becomes U+FFFD, which may be longer.
    text.truncate(text.floor_char_boundary(MAX_LINE));
    text
}

/// Expands a path that may contain glob characters (`*`, `?`, `[`) into the
/// matching regular files, sorted; a plain path (or a pattern that is not a
/// valid glob) is returned as-is even if it does not exist yet.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let paths = match glob::glob(pattern) {
        Ok(paths) if pattern.contains(['*', '?', '[']) => paths,
        _ => return vec![PathBuf::from(pattern)],
    };
    let mut files: Vec<PathBuf> = paths.flatten().filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::io::Write;

    // Rotation, resuming, missing and unreadable files: see the tests in mod.rs.

    fn append(path: &Path, text: &[u8]) {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text).unwrap();
    }

    fn started(dir: &Path, history: &[u8]) -> (PathBuf, Tailer) {
        let path = dir.join(format!("app{}.log", history.len()));
        append(&path, history);
        let mut tailer = Tailer::new(path.clone(), None);
        assert!(tailer.poll(100).unwrap().is_empty());
        (path, tailer)
    }

    #[test]
    fn lines_arrive_as_they_complete_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut tailer) = started(dir.path(), b"old\n");
        assert_eq!(tailer.path(), path);
        append(&path, b"hel");
        assert!(tailer.poll(100).unwrap().is_empty());
        append(&path, b"lo\r\nwor");
        assert_eq!(tailer.poll(100).unwrap(), ["hello"]);
        append(&path, b"ld\ncaf\xe9\n\n");
        assert_eq!(tailer.poll(100).unwrap(), ["world", "caf\u{fffd}", ""]);
        let (inode, len) = fs::metadata(&path).map(|m| (m.ino(), m.len())).unwrap();
        assert_eq!(tailer.position(), Some(Position { inode, offset: len }));
        // Started in the middle of a line: that line is history, skipped.
        let (path, mut tailer) = started(dir.path(), b"half of a li");
        append(&path, b"ne\nnew\n");
        assert_eq!(tailer.poll(10).unwrap(), ["new"]);
    }

    #[test]
    fn a_long_line_is_cut_to_max_line_and_the_next_line_is_intact() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut tailer) = started(dir.path(), b"");
        append(&path, &[b'x'; 10 * 1024]);
        assert!(tailer.poll(100).unwrap().is_empty());
        append(&path, &[b'y'; 10 * 1024]);
        append(&path, b"\nnext\n");
        let lines = tailer.poll(100).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert!(lines[0].starts_with(&"x".repeat(10 * 1024)) && lines[0].ends_with('y'));
        assert_eq!(lines[1], "next");
        // A two-byte character cut at the limit does not push the line past it.
        append(&path, format!("{}\n", "é".repeat(MAX_LINE)).as_bytes());
        let cut = tailer.poll(100).unwrap();
        assert!(cut[0].len() <= MAX_LINE && cut[0].len() > MAX_LINE - 4);
    }

    #[test]
    fn globs_expand_to_sorted_files_and_plain_paths_stay() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.log", "a.log", "c.txt"] {
            append(&dir.path().join(name), b"x\n");
        }
        fs::create_dir(dir.path().join("d.log")).unwrap();
        let pattern = format!("{}/*.log", dir.path().display());
        let files = [dir.path().join("a.log"), dir.path().join("b.log")];
        assert_eq!(expand(&pattern), files);
        let plain = dir.path().join("not-yet.log");
        assert_eq!(expand(plain.to_str().unwrap()), [plain]);
    }
}
