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

#[derive(Default)]
pub struct Recent {
    lines: Mutex<VecDeque<String>>,
    counts: [AtomicU64; 5],
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
        // Only the newest lines of a batch can survive in the ring.
        let newest: Vec<&[u8]> = batch
            .rsplit(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .take(RECENT_CAPACITY)
            .collect();
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        for line in newest.into_iter().rev() {
            if lines.len() == RECENT_CAPACITY {
                lines.pop_front();
            }
            lines.push_back(String::from_utf8_lossy(line).into_owned());
        }
    }

    /// The most recent lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
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
    fn keeps_the_last_thousand_lines_and_counts_all() {
        let recent = Arc::new(Recent::default());
        let mut output = RecentLines(recent.clone());
        let batch: String = (0..1500).map(|i| format!("line {i}\n")).collect();
        output.write_all(batch.as_bytes()).unwrap();
        output.write_all(b"last\n").unwrap();
        for _ in 0..1500 {
            recent.count(&Level::INFO);
        }
        recent.count(&Level::WARN);
        let lines = recent.lines();
        assert_eq!(lines.len(), RECENT_CAPACITY);
        assert_eq!(lines.first().map(String::as_str), Some("line 501"));
        assert_eq!(lines.last().map(String::as_str), Some("last"));
        assert_eq!(recent.counts().info, 1500);
        assert_eq!(recent.counts().warn, 1);
    }
}
