//! CSV export of the audit trail (RFC 4180 through the `csv` crate): one header
//! line, then one record per row. Text that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a
//! leading `'`, and so does text that already starts with `'`; a reader gets
//! the stored value back by dropping one leading `'`. Nothing else changes.

use std::io::Write;
use std::ops::ControlFlow;

use rusqlite::Connection;

use super::model::{Record, utc_text};
use super::repo;
use crate::store::StoreError;

/// The columns, in order.
pub const CSV_HEADER: [&str; 18] = [
    "id",
    "time_utc",
    "ts_ms",
    "actor_kind",
    "actor_id",
    "actor_email",
    "ip",
    "user_agent",
    "action",
    "target",
    "outcome",
    "request_id",
    "details",
    "pii_details",
    "erased_ms",
    "pii_digest",
    "prev_hash",
    "hash",
];

fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn fields(r: &Record) -> [String; 18] {
    let c = &r.canonical;
    let opt = |v: &Option<String>| v.as_deref().map(cell).unwrap_or_default();
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    [
        c.id.to_string(),
        utc_text(c.ts_ms),
        c.ts_ms.to_string(),
        cell(&c.actor_kind),
        num(c.actor_id),
        opt(&r.personal.email),
        opt(&r.personal.ip),
        opt(&r.personal.user_agent),
        cell(&c.action),
        opt(&c.target),
        cell(&c.outcome),
        opt(&c.request_id),
        cell(&c.details),
        opt(&r.personal.details),
        num(r.erased_ms),
        cell(&c.pii_digest),
        cell(&c.prev_hash),
        cell(&r.hash),
    ]
}

fn io_error(context: &str, e: csv::Error) -> StoreError {
    StoreError::Io {
        context: context.to_string(),
        source: e.into(),
    }
}

/// Writes every row, oldest first (the chain's order), with the header, to
/// `out`, reading as it goes. Returns the number of rows written.
pub fn write_csv(conn: &Connection, out: impl Write) -> Result<u64, StoreError> {
    let mut writer = csv::Writer::from_writer(out);
    writer
        .write_record(CSV_HEADER)
        .map_err(|e| io_error("writing the CSV header", e))?;
    let mut rows = 0u64;
    repo::each_in_order(conn, |record| -> Result<_, StoreError> {
        writer
            .write_record(fields(&record))
            .map_err(|e| io_error("writing a CSV row", e))?;
        rows += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    writer.flush().map_err(|source| StoreError::Io {
        context: "writing the CSV export".into(),
        source,
    })?;
    Ok(rows)
}

/// `records` as CSV bytes, preceded by the header when `header` is set: one
/// chunk of a streamed export.
pub fn chunk(records: &[Record], header: bool) -> Result<Vec<u8>, StoreError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer
            .write_record(CSV_HEADER)
            .map_err(|e| io_error("writing the CSV header", e))?;
    }
    for record in records {
        writer
            .write_record(fields(record))
            .map_err(|e| io_error("writing a CSV row", e))?;
    }
    writer
        .into_inner()
        .map_err(|e| io_error("finishing a CSV chunk", csv::Error::from(e.into_error())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_neutralised_reversibly() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("'quoted"), "''quoted");
        assert_eq!(cell("Mozilla/5.0"), "Mozilla/5.0");
        assert_eq!(cell(""), "");
    }
}
