//! What the process has logged lately, readable in-process: the last 1,000
//! lines and the count of lines per level since start.

use std::collections::VecDeque;
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
    pub fn push(&self, level: &Level, line: &str) {
        let slot = match *level {
            Level::ERROR => 0,
            Level::WARN => 1,
            Level::INFO => 2,
            Level::DEBUG => 3,
            Level::TRACE => 4,
        };
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == RECENT_CAPACITY {
                lines.pop_front();
            }
            lines.push_back(line.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_thousand_lines_and_counts_all() {
        let recent = Recent::default();
        for i in 0..1500 {
            recent.push(&Level::INFO, &format!("line {i}"));
        }
        recent.push(&Level::WARN, "last");
        let lines = recent.lines();
        assert_eq!(lines.len(), RECENT_CAPACITY);
        assert_eq!(lines.first().map(String::as_str), Some("line 501"));
        assert_eq!(lines.last().map(String::as_str), Some("last"));
        assert_eq!(recent.counts().info, 1500);
        assert_eq!(recent.counts().warn, 1);
    }
}
