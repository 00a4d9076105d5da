//! The checks' states and the pure rules between them: what one run found
//! ([`Outcome`]), how consecutive outcomes move a check between states
//! ([`Tally::apply`]), when a maintenance window is on, and uptime as a share
//! of runs. No I/O.

use serde::{Deserialize, Serialize};

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Up,
    Degraded,
    Down,
    Paused,
    /// Created, not yet decided.
    Pending,
    /// Inside a maintenance window and failing.
    Maintenance,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Paused => "paused",
            State::Pending => "pending",
            State::Maintenance => "maintenance",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        ALL_STATES.into_iter().find(|s| s.as_str() == text)
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            State::Up => "Up",
            State::Degraded => "Degraded",
            State::Down => "Down",
            State::Paused => "Paused",
            State::Pending => "Pending",
            State::Maintenance => "Maintenance",
        }
    }

    fn is_problem(self) -> bool {
        matches!(self, State::Degraded | State::Down)
    }
}

pub const ALL_STATES: [State; 6] = [
    State::Up,
    State::Degraded,
    State::Down,
    State::Paused,
    State::Pending,
    State::Maintenance,
];

/// What one run found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    /// `up`, `degraded` or `down` (never the other states).
    pub status: State,
    pub latency_ms: Option<f64>,
    /// Why it is not up (or a note, such as a certificate's days left).
    pub reason: Option<String>,
    /// HTTPS and TLS checks: days until the certificate expires.
    pub cert_days: Option<i64>,
    /// HTTP checks: the response status.
    pub http_status: Option<u16>,
}

impl Outcome {
    pub fn up(latency_ms: f64) -> Outcome {
        Outcome {
            status: State::Up,
            latency_ms: Some(latency_ms),
            reason: None,
            cert_days: None,
            http_status: None,
        }
    }

    pub fn down(reason: impl Into<String>) -> Outcome {
        Outcome {
            status: State::Down,
            latency_ms: None,
            reason: Some(reason.into()),
            cert_days: None,
            http_status: None,
        }
    }

    pub fn degraded(latency_ms: Option<f64>, reason: impl Into<String>) -> Outcome {
        Outcome {
            status: State::Degraded,
            latency_ms,
            reason: Some(reason.into()),
            cert_days: None,
            http_status: None,
        }
    }
}

/// A check's state and its run counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub state: State,
    /// Consecutive failed runs.
    pub fails: u32,
    /// Consecutive successful runs.
    pub successes: u32,
}

/// What a state change means for incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentChange {
    None,
    /// The check left `up`: open an incident of this severity.
    Open(State),
    /// An open incident got worse (degraded → down).
    Worsen(State),
    /// The check is back up (or paused): close the open incident.
    Close,
}

impl Tally {
    pub fn pending() -> Tally {
        Tally {
            state: State::Pending,
            fails: 0,
            successes: 0,
        }
    }

    /// Applies one run. A failure (`down`) counts toward `fail_after`; a
    /// `degraded` run counts as reachable. Inside a maintenance window a
    /// failing run shows `maintenance` and changes no incident.
    pub fn apply(
        self,
        outcome: State,
        in_maintenance: bool,
        fail_after: u32,
        recover_after: u32,
    ) -> (Tally, IncidentChange) {
        let failed = outcome == State::Down;
        let mut next = self;
        if failed {
            next.fails = self.fails.saturating_add(1);
            next.successes = 0;
        } else {
            next.successes = self.successes.saturating_add(1);
            next.fails = 0;
        }
        if in_maintenance {
            next.state = if failed || outcome == State::Degraded {
                State::Maintenance
            } else {
                State::Up
            };
            return (next, IncidentChange::None);
        }
        next.state = match self.state {
            State::Down if !failed && next.successes >= recover_after => outcome,
            State::Down => State::Down,
            _ if failed && next.fails >= fail_after => State::Down,
            // Not yet enough failures: keep what was shown.
            State::Up | State::Degraded | State::Pending if failed => self.state,
            // Back from maintenance (or paused) with a failure: pending until decided.
            State::Maintenance | State::Paused if failed => State::Pending,
            _ => outcome,
        };
        let change = match (self.state.is_problem(), next.state.is_problem()) {
            (false, true) => IncidentChange::Open(next.state),
            (true, false) => IncidentChange::Close,
            (true, true) if next.state == State::Down && self.state == State::Degraded => {
                IncidentChange::Worsen(State::Down)
            }
            _ => IncidentChange::None,
        };
        (next, change)
    }
}

/// A maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Window {
    Once {
        starts_ms: i64,
        ends_ms: i64,
    },
    /// Every week: `weekday` 0 = Monday, from `start_minute` of the UTC day,
    /// for `minutes`.
    Weekly {
        weekday: u8,
        start_minute: u16,
        minutes: u32,
    },
}

const WEEK_MS: i64 = 7 * 86_400_000;
const MINUTE_MS: i64 = 60_000;

impl Window {
    pub fn covers(&self, at_ms: i64) -> bool {
        match *self {
            Window::Once { starts_ms, ends_ms } => (starts_ms..ends_ms).contains(&at_ms),
            Window::Weekly {
                weekday,
                start_minute,
                minutes,
            } => {
                // 1970-01-01 was a Thursday: Monday 00:00 UTC is 3 days later.
                let monday_epoch = 4 * 86_400_000;
                let into_week = (at_ms - monday_epoch).rem_euclid(WEEK_MS);
                let start = i64::from(weekday) * 86_400_000 + i64::from(start_minute) * MINUTE_MS;
                let end = start + i64::from(minutes) * MINUTE_MS;
                // A window may run past Sunday midnight into next week.
                (start..end).contains(&into_week) || (start..end).contains(&(into_week + WEEK_MS))
            }
        }
    }

    /// A readable description (`Mondays 02:00–03:30 UTC`).
    pub fn describe(&self) -> String {
        match *self {
            Window::Once { starts_ms, ends_ms } => format!(
                "{} to {}",
                crate::auth::when(Some(starts_ms)),
                crate::auth::when(Some(ends_ms))
            ),
            Window::Weekly {
                weekday,
                start_minute,
                minutes,
            } => {
                let day = WEEKDAYS.get(usize::from(weekday)).copied().unwrap_or("?");
                let end = u32::from(start_minute) + minutes;
                format!(
                    "{day}s {:02}:{:02}–{:02}:{:02} UTC",
                    start_minute / 60,
                    start_minute % 60,
                    (end / 60) % 24,
                    end % 60
                )
            }
        }
    }

    /// Whether this window can never cover anything again.
    pub fn is_over(&self, now_ms: i64) -> bool {
        matches!(*self, Window::Once { ends_ms, .. } if ends_ms <= now_ms)
    }
}

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Runs of one period by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub up: i64,
    pub degraded: i64,
    pub down: i64,
    pub maintenance: i64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.up += other.up;
        self.degraded += other.degraded;
        self.down += other.down;
        self.maintenance += other.maintenance;
    }

    /// Share of counted runs that reached the service (up or degraded), in
    /// percent; maintenance is not counted. `None` with no runs.
    pub fn uptime(&self) -> Option<f64> {
        let counted = self.up + self.degraded + self.down;
        (counted > 0).then(|| (self.up + self.degraded) as f64 * 100.0 / counted as f64)
    }
}

/// Uptime in percent for people: `99.95%`, `100%`, or `—` without data.
pub fn uptime_text(uptime: Option<f64>) -> String {
    match uptime {
        None => "—".into(),
        Some(u) if u >= 100.0 => "100%".into(),
        // Never round a failure up to 100%.
        Some(u) => format!("{:.2}%", (u * 100.0).floor() / 100.0),
    }
}

/// The hour number (since the epoch) of a time.
pub fn hour_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(3_600_000)
}

/// The UTC day number of a time.
pub fn day_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: Tally, outcome: State) -> (Tally, IncidentChange) {
        t.apply(outcome, false, 2, 1)
    }

    #[test]
    fn a_check_goes_down_only_after_n_failures_and_up_after_m_successes() {
        let (t, c) = run(Tally::pending(), State::Up);
        assert_eq!((t.state, c), (State::Up, IncidentChange::None));
        let (t, c) = run(t, State::Down);
        assert_eq!((t.state, c), (State::Up, IncidentChange::None));
        let (t, c) = run(t, State::Down);
        assert_eq!(
            (t.state, c),
            (State::Down, IncidentChange::Open(State::Down))
        );
        let (t, c) = run(t, State::Down);
        assert_eq!((t.state, c), (State::Down, IncidentChange::None));
        let (t, c) = run(t, State::Up);
        assert_eq!((t.state, c), (State::Up, IncidentChange::Close));

        let slow = Tally {
            state: State::Down,
            fails: 5,
            successes: 0,
        };
        let (t, _) = slow.apply(State::Up, false, 2, 3);
        assert_eq!(t.state, State::Down);
        let (t, _) = t.apply(State::Up, false, 2, 3);
        let (t, c) = t.apply(State::Up, false, 2, 3);
        assert_eq!((t.state, c), (State::Up, IncidentChange::Close));
    }

    #[test]
    fn degraded_opens_an_incident_that_worsens_to_down() {
        let up = Tally {
            state: State::Up,
            fails: 0,
            successes: 3,
        };
        let (t, c) = run(up, State::Degraded);
        assert_eq!(
            (t.state, c),
            (State::Degraded, IncidentChange::Open(State::Degraded))
        );
        let (t, _) = run(t, State::Down);
        let (t, c) = run(t, State::Down);
        assert_eq!(
            (t.state, c),
            (State::Down, IncidentChange::Worsen(State::Down))
        );
    }

    #[test]
    fn failures_in_maintenance_open_nothing() {
        let up = Tally {
            state: State::Up,
            fails: 0,
            successes: 1,
        };
        let (t, c) = up.apply(State::Down, true, 1, 1);
        assert_eq!((t.state, c), (State::Maintenance, IncidentChange::None));
        let (t, c) = t.apply(State::Down, true, 1, 1);
        assert_eq!((t.state, c), (State::Maintenance, IncidentChange::None));
        // The window ends while still failing: down at once with fail_after 1.
        let (t, c) = t.apply(State::Down, false, 1, 1);
        assert_eq!(
            (t.state, c),
            (State::Down, IncidentChange::Open(State::Down))
        );
    }

    #[test]
    fn weekly_windows_cover_their_minutes_even_across_sunday_midnight() {
        // 2026-11-30 is a Monday.
        let monday = 1_795_996_800_000_i64;
        let w = Window::Weekly {
            weekday: 0,
            start_minute: 120,
            minutes: 90,
        };
        assert!(!w.covers(monday + 119 * MINUTE_MS));
        assert!(w.covers(monday + 120 * MINUTE_MS));
        assert!(w.covers(monday + 209 * MINUTE_MS));
        assert!(!w.covers(monday + 210 * MINUTE_MS));
        assert!(w.covers(monday + WEEK_MS + 150 * MINUTE_MS));
        assert_eq!(w.describe(), "Mondays 02:00–03:30 UTC");
        let late_sunday = Window::Weekly {
            weekday: 6,
            start_minute: 23 * 60,
            minutes: 120,
        };
        assert!(late_sunday.covers(monday + 30 * MINUTE_MS));
        assert!(!late_sunday.covers(monday + 61 * MINUTE_MS));
    }

    #[test]
    fn uptime_counts_reachable_runs_and_never_rounds_up() {
        let c = Counts {
            up: 9998,
            degraded: 1,
            down: 1,
            maintenance: 50,
        };
        assert_eq!(uptime_text(c.uptime()), "99.99%");
        assert_eq!(uptime_text(Counts::default().uptime()), "—");
        let almost = Counts {
            up: 99_999,
            down: 1,
            ..Counts::default()
        };
        assert_eq!(uptime_text(almost.uptime()), "99.99%");
    }
}
