//! What the process has logged lately, readable in-process: the last 1,000
//! lines and the count of lines per level since start. Lines arrive through
//! the log writer thread (as one of its outputs, see [`RecentLines`]), so
//! request threads never contend for the ring's lock.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tracing::Level;

pub const RECENT_CAPACITY: usize = 1000;

/// The ring keeps whole batches as the writer hands them over and splits
/// them into lines only when someone reads, so keeping up costs a copy per
/// batch, not an allocation per line.
#[derive(Default)]
pub struct Recent {
    batches: Mutex<Batches>,
    counts: [AtomicU64; 5],
}

#[derive(Default)]
struct Batches {
    /// Each batch with the number of lines in it, oldest first.
    queue: VecDeque<(Vec<u8>, usize)>,
    lines: usize,
}

/// Lines logged per level since start.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct LevelCounts {
    pub error: u64,
    pub warn: u64,
    pub info: u64,
    pub debug: u64,
    pub trace: u64,
}

impl Recent {
    pub fn count(&self, level: &Level) {
        let slot = match *level {
            Level::ERROR => 0,
            Level::WARN => 1,
            Level::INFO => 2,
            Level::DEBUG => 3,
            Level::TRACE => 4,
        };
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
    }

    fn push_lines(&self, batch: &[u8]) {
        let (batch, count) = last_lines(batch, RECENT_CAPACITY);
        if count == 0 {
            return;
        }
        let Ok(mut batches) = self.batches.lock() else {
            return;
        };
        batches.queue.push_back((batch.to_vec(), count));
        batches.lines += count;
        // Drop the oldest batches while the rest still hold a full ring.
        while let Some(&(_, oldest)) = batches.queue.front() {
            if batches.lines - oldest < RECENT_CAPACITY {
                break;
            }
            batches.lines -= oldest;
            batches.queue.pop_front();
        }
    }

    /// The most recent lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let Ok(batches) = self.batches.lock() else {
            return Vec::new();
        };
        let all: Vec<String> = batches
            .queue
            .iter()
            .flat_map(|(batch, _)| batch.split(|&b| b == b'\n').filter(|l| !l.is_empty()))
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect();
        let skip = all.len().saturating_sub(RECENT_CAPACITY);
        all.into_iter().skip(skip).collect()
    }

    pub fn counts(&self) -> LevelCounts {
        let get = |i: usize| self.counts[i].load(Ordering::Relaxed);
        LevelCounts {
            error: get(0),
            warn: get(1),
            info: get(2),
            debug: get(3),
            trace: get(4),
        }
    }
}

/// The newlines in `batch`, summed in `u8`s a chunk at a time, which the
/// compiler vectorizes; `filter().count()` goes byte by byte.
fn count_lines(batch: &[u8]) -> usize {
    batch
        .chunks(255)
        .map(|chunk| usize::from(chunk.iter().map(|&b| u8::from(b == b'\n')).sum::<u8>()))
        .sum()
}

/// The last `keep` lines of `batch` (lines end with `\n`) and how many
/// lines that is: under load a batch holds many times the ring, and copying
/// only its tail keeps the ring's cost flat.
fn last_lines(batch: &[u8], keep: usize) -> (&[u8], usize) {
    let count = count_lines(batch);
    if count <= keep {
        return (batch, count);
    }
    // Counting from the end, the newline that closes the line before the kept ones.
    let mut seen = 0;
    let start = batch
        .iter()
        .rposition(|&b| {
            seen += usize::from(b == b'\n');
            seen > keep
        })
        .map_or(0, |newline| newline + 1);
    (&batch[start..], keep)
}

/// The ring as an output of the log writer: each write is a batch of lines.
pub struct RecentLines(pub Arc<Recent>);

impl Write for RecentLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push_lines(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_are_counted_across_chunks() {
        let batch: Vec<u8> = (0..2000)
            .map(|i| if i % 7 == 0 { b'\n' } else { b'x' })
            .collect();
        assert_eq!(
            count_lines(&batch),
            batch.iter().filter(|&&b| b == b'\n').count()
        );
        assert_eq!(count_lines(&[b'\n'; 600]), 600);
        assert_eq!(count_lines(b""), 0);
    }

    #[test]
    fn only_the_tail_of_a_long_batch_is_kept() {
        assert_eq!(last_lines(b"a\nb\nc\n", 2), (&b"b\nc\n"[..], 2));
        assert_eq!(last_lines(b"a\nb\n", 2), (&b"a\nb\n"[..], 2));
        assert_eq!(last_lines(b"a\nb\nc\n", 1), (&b"c\n"[..], 1));
        assert_eq!(last_lines(b"", 3), (&b""[..], 0));
    }

    #[test]
    fn keeps_the_last_thousand_lines_and_counts_all() {
        let recent = Arc::new(Recent::default());
        let mut output = RecentLines(recent.clone());
        let batch: String = (0..1500).map(|i| format!("line {i}\n")).collect();
        output.write_all(batch.as_bytes()).unwrap();
        for i in 0..5 {
            output
                .write_all(format!("small batch {i}\n").as_bytes())
                .unwrap();
        }
        output.write_all(b"last\n").unwrap();
        for _ in 0..1500 {
            recent.count(&Level::INFO);
        }
        recent.count(&Level::WARN);
        let lines = recent.lines();
        assert_eq!(lines.len(), RECENT_CAPACITY);
        assert_eq!(lines.first().map(String::as_str), Some("line 506"));
        assert_eq!(lines[lines.len() - 2], "small batch 4");
        assert_eq!(lines.last().map(String::as_str), Some("last"));
        assert_eq!(recent.counts().info, 1500);
        assert_eq!(recent.counts().warn, 1);
    }
}
