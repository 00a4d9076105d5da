//! The bus: typed signals that sources publish and consumers (the alerting
//! work) subscribe to, over a tokio broadcast channel. Publishing never
//! blocks and never fails: with no subscriber a signal is simply dropped,
//! and a subscriber that falls behind loses the oldest signals (it is told
//! how many by `RecvError::Lagged`).

use serde::Serialize;
use tokio::sync::broadcast;

/// Signals kept for a slow subscriber before the oldest are dropped.
const CAPACITY: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// A brute-force detector overflowed (HTTP logins or sshd).
    BruteForce {
        ip: String,
        detector: &'static str,
        source: String,
    },
    /// An address or block was banned.
    BanCreated {
        ip: String,
        reason: String,
        detector: Option<String>,
        source: String,
        until_ms: i64,
    },
    /// A route went over its performance baseline (`perf.regression`).
    PerfRegression {
        source: String,
        route: String,
        method: String,
        /// `latency` or `errors`.
        kind: &'static str,
        detail: String,
    },
    /// A regressed route has been back under its baseline long enough.
    PerfRecovered {
        source: String,
        route: String,
        method: String,
    },
    /// Someone completed a login (password, and second factor if they have one).
    LoginSucceeded {
        user_id: i64,
        admin: bool,
        ip: String,
    },
    /// Error tracking opened an issue, or reopened a resolved one.
    ErrorIssue {
        /// The project's slug.
        project: String,
        issue_id: i64,
        title: String,
        /// `new` or `regression`.
        kind: &'static str,
    },
    /// A security audit ran: its high findings that the previous run did not
    /// have (id, title), and the ids of all its high findings.
    AuditFindings {
        new_high: Vec<(String, String)>,
        high: Vec<String>,
    },
    /// A signed hook delivered a deploy marker.
    Deploy {
        version: String,
        source: String,
        notes: String,
        hook: String,
        ts_ms: i64,
    },
}

#[derive(Clone)]
pub struct Bus(broadcast::Sender<Signal>);

impl Default for Bus {
    fn default() -> Self {
        Bus(broadcast::channel(CAPACITY).0)
    }
}

impl Bus {
    pub fn publish(&self, signal: Signal) {
        let _ = self.0.send(signal);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.0.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribe() {
        let bus = Bus::default();
        bus.publish(Signal::BruteForce {
            ip: "203.0.113.1".into(),
            detector: "ssh_bruteforce",
            source: "auth-log".into(),
        });
        let mut rx = bus.subscribe();
        let signal = Signal::BruteForce {
            ip: "203.0.113.5".into(),
            detector: "ssh_bruteforce",
            source: "auth-log".into(),
        };
        bus.publish(signal.clone());
        assert_eq!(rx.recv().await.unwrap(), signal);
    }
}
