//! Heartbeats: a cron job or backup pings its secret URL when it starts,
//! succeeds or fails, and the check judges from the last pings alone. A
//! failure ping is down at once, a success up at once; no success within
//! `period + grace` of the last one (or of the check's creation) is down, and
//! a job that started and did not finish within the grace time is down.

use std::time::Duration;

use super::check::{Check, Probe};
use super::model::Outcome;
use super::repo::CheckRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingKind {
    Success,
    Start,
    Fail,
}

impl PingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PingKind::Success => "success",
            PingKind::Start => "start",
            PingKind::Fail => "fail",
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What the pings say at `now_ms`; `None` while nothing can be said yet (a
/// new check waiting for its first ping, or not a heartbeat).
pub fn judge(row: &CheckRow, check: &Check, now_ms: i64) -> Option<Outcome> {
    let Probe::Heartbeat { period, grace } = check.probe else {
        return None;
    };
    let (period, grace) = (ms(period), ms(grace));
    let every =
        humantime::format_duration(Duration::from_millis(u64::try_from(period).unwrap_or(0)));
    let finished = row.last_ping_ms;
    if let Some(start) = row
        .last_start_ms
        .filter(|s| finished.is_none_or(|f| *s > f))
        && now_ms > start + grace
    {
        return Some(Outcome::down(format!(
            "the job started at {} and did not finish within the grace time",
            crate::auth::when(Some(start))
        )));
    }
    match (finished, row.last_ping_kind.as_deref()) {
        (Some(at), Some("fail")) => Some(Outcome::down(format!(
            "the job reported a failure at {}",
            crate::auth::when(Some(at))
        ))),
        (Some(at), _) if now_ms > at + period + grace => Some(Outcome::down(format!(
            "late: the last ping was at {}; expected every {every}",
            crate::auth::when(Some(at))
        ))),
        (Some(at), _) => {
            let mut up = Outcome::up(0.0);
            // The run's duration, when a start ping opened it.
            up.latency_ms = row
                .last_start_ms
                .filter(|s| *s <= at && at - s <= period)
                .map(|s| (at - s) as f64);
            Some(up)
        }
        (None, _) if now_ms > row.created_ms + period + grace => Some(Outcome::down(format!(
            "no ping has arrived since the check was created; expected every {every}"
        ))),
        (None, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::definition::Definition;
    use super::super::model::State;
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn row(created_ms: i64) -> CheckRow {
        CheckRow::unsaved(&check(), created_ms)
    }

    fn check() -> Check {
        Definition {
            id: "backup".into(),
            name: "Backup".into(),
            kind: "heartbeat".into(),
            period: Some("24h".into()),
            grace: Some("1h".into()),
            ..Definition::default()
        }
        .validate("")
        .unwrap()
    }

    #[test]
    fn on_time_late_and_failed() {
        let c = check();
        let mut r = row(0);
        assert!(judge(&r, &c, 10 * HOUR).is_none());
        assert_eq!(judge(&r, &c, 26 * HOUR).unwrap().status, State::Down);
        r.last_start_ms = Some(30 * HOUR);
        r.last_ping_ms = Some(30 * HOUR + 120_000);
        r.last_ping_kind = Some("success".into());
        let on_time = judge(&r, &c, 40 * HOUR).unwrap();
        assert_eq!(on_time.status, State::Up);
        assert_eq!(on_time.latency_ms, Some(120_000.0));
        let late = judge(&r, &c, 56 * HOUR).unwrap();
        assert_eq!(late.status, State::Down);
        assert!(late.reason.unwrap().starts_with("late: "));
        r.last_ping_kind = Some("fail".into());
        assert_eq!(judge(&r, &c, 31 * HOUR).unwrap().status, State::Down);
    }

    #[test]
    fn a_start_without_an_end_is_down_after_the_grace_time() {
        let c = check();
        let mut r = row(0);
        r.last_ping_ms = Some(HOUR);
        r.last_ping_kind = Some("success".into());
        r.last_start_ms = Some(20 * HOUR);
        assert_eq!(judge(&r, &c, 20 * HOUR + 1000).unwrap().status, State::Up);
        assert_eq!(judge(&r, &c, 21 * HOUR + 1000).unwrap().status, State::Down);
    }
}
