//! Security events, aggregated before they are written: one row per (kind,
//! IP, minute) with a count, so an attack of thousands of requests a second
//! becomes a handful of upserts every flush instead of a write storm. The
//! first occurrence's details (redacted and truncated by the caller) and
//! request id are kept; later ones only count.
//!
//! The pending table is bounded; past the bound new keys are dropped and
//! counted, never grown.

use std::collections::HashMap;

use serde_json::Value;

use super::model::{minute_of, severity_of};

pub const MAX_PENDING: usize = 10_000;
/// Details longer than this are cut (a request can carry a long query).
pub const MAX_DETAIL_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub kind: &'static str,
    pub ip: String,
    pub minute_ms: i64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub severity: &'static str,
    pub source: String,
    pub request_id: Option<String>,
    pub details: Value,
    pub count: i64,
}

#[derive(Default)]
pub struct Aggregator {
    pending: HashMap<(&'static str, String, i64), Pending>,
    pub dropped: u64,
}

/// One occurrence, as the detectors report it.
pub struct Occurrence<'a> {
    pub kind: &'static str,
    pub ip: &'a str,
    pub source: &'a str,
    pub request_id: Option<&'a str>,
    pub ts_ms: i64,
    pub details: &'a dyn Fn() -> Value,
}

impl Aggregator {
    pub fn add(&mut self, o: Occurrence<'_>) {
        let minute_ms = minute_of(o.ts_ms);
        if let Some(p) = self.pending.get_mut(&(o.kind, o.ip.to_owned(), minute_ms)) {
            p.count += 1;
            p.last_ms = p.last_ms.max(o.ts_ms);
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            self.dropped += 1;
            return;
        }
        self.pending.insert(
            (o.kind, o.ip.to_owned(), minute_ms),
            Pending {
                kind: o.kind,
                ip: o.ip.to_owned(),
                minute_ms,
                first_ms: o.ts_ms,
                last_ms: o.ts_ms,
                severity: severity_of(o.kind).as_str(),
                source: o.source.to_owned(),
                request_id: o.request_id.map(str::to_owned),
                details: (o.details)(),
                count: 1,
            },
        );
    }

    /// Everything pending, for one write.
    pub fn take(&mut self) -> Vec<Pending> {
        self.pending.drain().map(|(_, p)| p).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// A string cut to [`MAX_DETAIL_CHARS`] characters, marked when cut.
pub fn truncated(s: &str) -> String {
    match s.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurrence(ip: &str, ts_ms: i64) -> Occurrence<'_> {
        Occurrence {
            kind: "probe.sqli",
            ip,
            source: "http",
            request_id: Some("r1"),
            ts_ms,
            details: &|| serde_json::json!({"path": "/x"}),
        }
    }

    #[test]
    fn an_attack_aggregates_per_kind_ip_and_minute() {
        let mut agg = Aggregator::default();
        for i in 0..1_000 {
            agg.add(occurrence("203.0.113.5", 60_000 + i));
        }
        agg.add(occurrence("203.0.113.5", 120_000));
        agg.add(occurrence("203.0.113.6", 60_000));
        let mut rows = agg.take();
        rows.sort_by_key(|r| (r.ip.clone(), r.minute_ms));
        let counts: Vec<i64> = rows.iter().map(|r| r.count).collect();
        assert_eq!(counts, [1_000, 1, 1]);
        assert_eq!(rows[0].last_ms, 60_999);
        assert_eq!(rows[0].severity, "high");
        assert!(agg.is_empty());
    }

    #[test]
    fn the_pending_table_is_bounded() {
        let mut agg = Aggregator::default();
        for i in 0..(MAX_PENDING + 5) {
            let ip = format!("10.0.{}.{}", i / 256, i % 256);
            agg.add(occurrence(&ip, 0));
        }
        assert_eq!(agg.take().len(), MAX_PENDING);
        assert_eq!(agg.dropped, 5);
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_DETAIL_CHARS + 10);
        let cut = truncated(&long);
        assert_eq!(cut.chars().count(), MAX_DETAIL_CHARS + 1);
        assert_eq!(truncated("short"), "short");
    }
}
