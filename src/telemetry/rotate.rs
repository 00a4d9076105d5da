//! A log file that rotates by size: when the next line would pass the limit,
//! `watchpost.log` becomes `watchpost.log.1.gz` (older ones shift up, the
//! oldest beyond the count is deleted) and a fresh file starts. Files are
//! created `0640` (narrowed further by the process umask).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: BufWriter<File>,
    written: u64,
}

impl RotatingFile {
    pub fn open(path: PathBuf, max_bytes: u64, keep: usize) -> io::Result<Self> {
        let file = open_append(&path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            max_bytes,
            keep,
            file: BufWriter::new(file),
            written,
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}.gz"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep > 0 {
            let _ = std::fs::remove_file(self.rotated(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.rotated(n);
                if from.exists() {
                    std::fs::rename(&from, self.rotated(n + 1))?;
                }
            }
            compress(&self.path, &self.rotated(1))?;
        }
        self.file = BufWriter::new(
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .create(true)
                .mode(0o640)
                .open(&self.path)?,
        );
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    /// Writes `buf`, rotating first when it would pass the limit. Only whole
    /// batches of lines are written here, so rotation never splits a line.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            let room = self.max_bytes.saturating_sub(self.written) as usize;
            let take = match rest.len() <= room {
                true => rest.len(),
                // Cut at the last line end that fits; a single overlong line goes whole.
                false => rest[..room]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1),
            };
            if take == 0 {
                if self.written > 0 {
                    self.rotate()?;
                    continue;
                }
                let line_end = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
                self.file.write_all(&rest[..line_end])?;
                self.written += line_end as u64;
                rest = &rest[line_end..];
                continue;
            }
            self.file.write_all(&rest[..take])?;
            self.written += take as u64;
            rest = &rest[take..];
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

fn compress(from: &Path, to: &Path) -> io::Result<()> {
    let mut tmp = to.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let out = OpenOptions::new()
        .write(true)
        .truncate(true)
        .create(true)
        .mode(0o640)
        .open(&tmp)?;
    let mut encoder = GzEncoder::new(out, Compression::fast());
    io::copy(&mut File::open(from)?, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    std::fs::rename(tmp, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn rotates_by_size_into_gzip_files_and_keeps_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.log");
        let mut file = RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..10 {
            file.write_all(format!("line number {i:02} of the log......\n").as_bytes())
                .unwrap();
        }
        let batch: String = (0..4)
            .map(|i| format!("batched line {i} of the log...\n"))
            .collect();
        file.write_all(batch.as_bytes()).unwrap();
        file.flush().unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(
            current.ends_with('\n') && current.lines().all(|l| l.ends_with("...")),
            "a batch is split only between lines: {current:?}"
        );
        assert!(path.with_extension("log.1.gz").exists());
        assert!(path.with_extension("log.2.gz").exists());
        assert!(
            !path.with_extension("log.3.gz").exists(),
            "only two rotated files are kept"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(path.with_extension("log.1.gz")).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert!(
            text.starts_with("line number"),
            "rotated file holds whole lines: {text}"
        );
        assert!(std::fs::metadata(&path).unwrap().len() <= 100);
    }
}
