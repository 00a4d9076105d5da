//! The in-memory aggregation of one source: a [`Cell`] per (route, method,
//! status class, minute), and since start a cumulative one per (route,
//! method, status class) that `/metrics` exports. Both are updated by the
//! same call from the same observation, so the exported histogram and the
//! stored minutes agree by construction.
//!
//! Lock-light: the table is split into shards and each thread keeps to its
//! own shard, so the HTTP workers never wait on each other; the flusher
//! takes each shard's finished minutes once a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::model::{Cell, Row, status_class};

const SHARDS: usize = 8;

/// One route's cells: (minute, method, class, cell) — a handful at a time.
type RouteCells = Vec<(i64, &'static str, u8, Cell)>;
/// One route's totals since start: (method, class, cell).
type RouteTotals = Vec<(&'static str, u8, Cell)>;

#[derive(Default)]
struct Shard {
    minutes: HashMap<Box<str>, RouteCells>,
    totals: HashMap<Box<str>, RouteTotals>,
}

pub struct Aggregator {
    pub source: String,
    shards: Vec<Mutex<Shard>>,
}

fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    MINE.with(|i| *i)
}

impl Aggregator {
    pub fn new(source: &str) -> Aggregator {
        Aggregator {
            source: source.to_owned(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// One request at `minute` (unix seconds of the minute's start).
    pub fn observe(
        &self,
        route: &str,
        method: &'static str,
        status: u16,
        us: Option<u64>,
        minute: i64,
    ) {
        let class = status_class(status);
        let Some(shard) = self.shards.get(shard_index()) else {
            return;
        };
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        let Shard { minutes, totals } = &mut *shard;
        match minutes.get_mut(route) {
            Some(cells) => observe_in(cells, (minute, method, class), status, us),
            None => {
                let mut cells = Vec::with_capacity(2);
                observe_in(&mut cells, (minute, method, class), status, us);
                minutes.insert(route.into(), cells);
            }
        }
        match totals.get_mut(route) {
            Some(cells) => total_in(cells, (method, class), status, us),
            None => {
                let mut cells = Vec::with_capacity(1);
                total_in(&mut cells, (method, class), status, us);
                totals.insert(route.into(), cells);
            }
        }
    }

    /// Takes the cells of minutes before `minute` (all of them with None),
    /// merged across shards.
    pub fn take_before(&self, minute: Option<i64>) -> Vec<Row> {
        let mut merged: HashMap<(String, &'static str, u8, i64), Cell> = HashMap::new();
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            shard.minutes.retain(|route, cells| {
                cells.retain(|(m, method, class, cell)| {
                    if minute.is_some_and(|limit| *m >= limit) {
                        return true;
                    }
                    merged
                        .entry((route.to_string(), method, *class, *m))
                        .or_default()
                        .merge(cell);
                    false
                });
                !cells.is_empty()
            });
        }
        merged
            .into_iter()
            .map(|((route, method, class, ts), cell)| Row {
                source: self.source.clone(),
                route,
                method: method.to_owned(),
                class,
                ts,
                cell,
            })
            .collect()
    }

    /// Everything since start per (route, method, class), merged across shards.
    pub fn totals(&self) -> Vec<(String, &'static str, u8, Cell)> {
        let mut merged: HashMap<(String, &'static str, u8), Cell> = HashMap::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (route, cells) in &shard.totals {
                for (method, class, cell) in cells {
                    merged
                        .entry((route.to_string(), method, *class))
                        .or_default()
                        .merge(cell);
                }
            }
        }
        let mut out: Vec<_> = merged
            .into_iter()
            .map(|((r, m, c), cell)| (r, m, c, cell))
            .collect();
        out.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
        out
    }
}

fn observe_in(cells: &mut RouteCells, key: (i64, &'static str, u8), status: u16, us: Option<u64>) {
    let at = cells
        .iter()
        .position(|(m, method, class, _)| (*m, *method, *class) == key);
    match at {
        Some(i) => cells[i].3.observe(status, us),
        None => {
            let mut cell = Cell::default();
            cell.observe(status, us);
            cells.push((key.0, key.1, key.2, cell));
        }
    }
}

fn total_in(cells: &mut RouteTotals, key: (&'static str, u8), status: u16, us: Option<u64>) {
    match cells.iter_mut().find(|(m, c, _)| (*m, *c) == key) {
        Some((_, _, cell)) => cell.observe(status, us),
        None => {
            let mut cell = Cell::default();
            cell.observe(status, us);
            cells.push((key.0, key.1, cell));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn finished_minutes_are_taken_once_and_totals_stay() {
        let agg = Aggregator::new("self");
        agg.observe("/a", "GET", 200, Some(1_000), 60);
        agg.observe("/a", "GET", 200, Some(3_000), 60);
        agg.observe("/a", "GET", 500, Some(9_000), 60);
        agg.observe("/a", "GET", 200, Some(2_000), 120);
        let rows = agg.take_before(Some(120));
        assert_eq!(rows.len(), 2, "2xx and 5xx of minute 60");
        let ok = rows.iter().find(|r| r.class == 2).unwrap();
        assert_eq!((ok.cell.count, ok.cell.sum_us, ok.ts), (2, 4_000, 60));
        assert!(agg.take_before(Some(120)).is_empty(), "taken once");
        let rest = agg.take_before(None);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].ts, 120);
        let totals = agg.totals();
        let count: u64 = totals.iter().map(|t| t.3.count).sum();
        assert_eq!(count, 4, "totals since start are kept");
    }

    #[test]
    fn threads_on_different_shards_are_merged() {
        let agg = std::sync::Arc::new(Aggregator::new("self"));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let agg = agg.clone();
                std::thread::spawn(move || {
                    (0..1000).for_each(|i| agg.observe("/x", "POST", 201, Some(100 + i), 0))
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let rows = agg.take_before(None);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].cell.count, 4_000);
        assert_eq!(rows[0].cell.hist.count(), 4_000);
    }
}
