//! The scheduler: every check runs on its own interval, with a little
//! jitter so checks made together do not fire together, under a global cap
//! of concurrent runs, and never twice at once (a run still going when the
//! next is due makes that one skip). Definitions are reloaded whenever they
//! change. Heartbeats are judged on the same clock, so a missing ping turns
//! into `down` without anyone asking.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::service::{Checks, Loaded};
use crate::tasks::Shutdown;

const TICK: Duration = Duration::from_millis(250);
/// The first run of a newly seen check comes within this long.
const FIRST_RUN_SPREAD: Duration = Duration::from_secs(3);

/// When each check runs next and whether it is running (pure bookkeeping).
#[derive(Default)]
pub struct Schedule {
    slots: HashMap<i64, Slot>,
}

struct Slot {
    loaded: Loaded,
    next: Instant,
    running: bool,
    /// Runs started, to vary the jitter.
    runs: i64,
}

impl Schedule {
    /// Takes the current definitions: new checks get a first run soon,
    /// changed ones keep their timing, removed and paused ones go.
    pub fn reload(&mut self, all: Vec<Loaded>, now: Instant) {
        let mut next = HashMap::with_capacity(all.len());
        for loaded in all.into_iter().filter(|l| !l.row.paused) {
            let id = loaded.row.id;
            let slot = match self.slots.remove(&id) {
                Some(old) => Slot {
                    loaded,
                    next: old.next,
                    running: old.running,
                    runs: old.runs,
                },
                None => Slot {
                    next: now + jitter(id, FIRST_RUN_SPREAD),
                    loaded,
                    running: false,
                    runs: 0,
                },
            };
            next.insert(id, slot);
        }
        self.slots = next;
    }

    /// The checks due at `now` that are not running; each is marked running
    /// and its next run planned one interval (plus jitter) from now. A due
    /// check still running only has its next run moved on.
    pub fn take_due(&mut self, now: Instant) -> Vec<Loaded> {
        let mut due = Vec::new();
        for (id, slot) in &mut self.slots {
            if slot.next > now {
                continue;
            }
            let interval = slot.loaded.check.interval;
            slot.runs += 1;
            slot.next = now
                + interval
                + jitter(id.wrapping_mul(7919).wrapping_add(slot.runs), interval / 20);
            if slot.running {
                tracing::debug!(check = %slot.loaded.row.slug, "the previous run is still going; skipping this one");
                continue;
            }
            slot.running = true;
            due.push(slot.loaded.clone());
        }
        due
    }

    pub fn finished(&mut self, id: i64) {
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.running = false;
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Up to `max`, spread by a hash of `seed` (no need for a CSPRNG here).
fn jitter(seed: i64, max: Duration) -> Duration {
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(0);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    let mut x = seed as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    Duration::from_millis(x % max_ms)
}

/// The scheduler task.
pub async fn run(checks: Arc<Checks>, max_concurrent: usize, mut shutdown: Shutdown) {
    let permits = Arc::new(Semaphore::new(max_concurrent.max(1)));
    let mut schedule = Schedule::default();
    let mut reload = true;
    let mut running: JoinSet<i64> = JoinSet::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if reload {
            match checks.all().await {
                Ok(all) => schedule.reload(all, Instant::now()),
                Err(e) => {
                    tracing::warn!(error = %e, "loading the checks failed; keeping the last schedule")
                }
            }
            reload = false;
        }
        for loaded in schedule.take_due(Instant::now()) {
            let (checks, permits) = (checks.clone(), permits.clone());
            running.spawn(async move {
                let id = loaded.row.id;
                let Ok(_permit) = permits.acquire_owned().await else {
                    return id;
                };
                // A "run now" of the same check may hold it: then this run skips.
                let Some(_claim) = checks.claim(id) else {
                    return id;
                };
                let ts_ms = checks.clock.now_ms();
                if let Some(outcome) = checks.probe(&loaded).await
                    && let Err(e) = checks.record(&loaded, outcome, ts_ms).await
                {
                    tracing::warn!(check = %loaded.row.slug, error = %e, "storing a check result failed");
                }
                id
            });
        }
        tokio::select! {
            _ = tick.tick() => {}
            () = checks.changed.notified() => reload = true,
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(id) = done {
                    schedule.finished(id);
                }
            }
            () = shutdown.wait() => break,
        }
        while let Some(done) = running.try_join_next() {
            if let Ok(id) = done {
                schedule.finished(id);
            }
        }
    }
    // Runs in flight finish (each is bounded by its timeout) so their results are stored.
    while running.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::definition::Definition;
    use crate::checks::repo::CheckRow;

    fn loaded(id: i64, interval: &str) -> Loaded {
        let def = Definition {
            id: format!("c{id}"),
            name: "C".into(),
            kind: "tcp".into(),
            target: Some("127.0.0.1:9".into()),
            interval: Some(interval.into()),
            ..Definition::default()
        };
        let check = def.validate("").unwrap();
        Loaded {
            row: CheckRow {
                id,
                ..CheckRow::unsaved(&check, 0)
            },
            def,
            check: Arc::new(check),
        }
    }

    #[test]
    fn a_running_check_is_never_started_again() {
        let start = Instant::now();
        let mut s = Schedule::default();
        s.reload(vec![loaded(1, "10s")], start);
        let soon = start + FIRST_RUN_SPREAD;
        assert_eq!(s.take_due(soon).len(), 1);
        // Still running when the next run is due: skipped, twice.
        assert!(s.take_due(soon + Duration::from_secs(11)).is_empty());
        assert!(s.take_due(soon + Duration::from_secs(23)).is_empty());
        s.finished(1);
        assert_eq!(s.take_due(soon + Duration::from_secs(35)).len(), 1);
    }

    #[test]
    fn reloading_keeps_timing_and_drops_what_is_gone() {
        let start = Instant::now();
        let mut s = Schedule::default();
        s.reload(vec![loaded(1, "60s"), loaded(2, "60s")], start);
        assert_eq!(s.take_due(start + FIRST_RUN_SPREAD).len(), 2);
        s.reload(vec![loaded(1, "60s")], start + Duration::from_secs(5));
        assert_eq!(s.len(), 1);
        // Still marked running across the reload.
        assert!(s.take_due(start + Duration::from_secs(70)).is_empty());
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        for seed in 0..1000 {
            assert!(jitter(seed, Duration::from_secs(3)) < Duration::from_secs(3));
        }
        assert_eq!(jitter(5, Duration::ZERO), Duration::ZERO);
    }
}
