//! The time series' SQL. Recording a sample writes its raw row and folds it
//! into its minute and hour rows with one upsert each, so rollups are always
//! current and history is never rescanned.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{Bucket, Sample, SeriesInfo, Tier, Unit};
use crate::store::StoreError;

/// The id of the series `sample` belongs to, created (or its unit and label
/// updated) as needed.
pub fn ensure(conn: &Connection, sample: &Sample, now_ms: i64) -> Result<i64, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO series (name, unit, label, created_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO UPDATE SET unit = excluded.unit, label = excluded.label \
         WHERE unit IS NOT excluded.unit OR label IS NOT excluded.label \
         RETURNING id",
    )?;
    let created: Option<i64> = stmt
        .query_row(
            params![sample.name, sample.unit.as_str(), sample.label, now_ms],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = created {
        return Ok(id);
    }
    let mut find = conn.prepare_cached("SELECT id FROM series WHERE name = ?1")?;
    Ok(find.query_row([&sample.name], |r| r.get(0))?)
}

/// Stores `samples` taken at `ts` (Unix seconds) in every tier. Non-finite
/// values, and a second value for a series at the same second, are skipped.
/// Returns how many were stored.
pub fn record(conn: &Connection, ts: i64, samples: &[Sample]) -> Result<usize, StoreError> {
    let now_ms = ts.saturating_mul(1000);
    let mut raw = conn.prepare_cached(
        "INSERT INTO series_raw (series_id, ts, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT DO NOTHING",
    )?;
    let mut stored = 0;
    for sample in samples.iter().filter(|s| s.value.is_finite()) {
        let id = ensure(conn, sample, now_ms)?;
        if raw.execute(params![id, ts, sample.value])? == 0 {
            continue;
        }
        for tier in [Tier::Minute, Tier::Hour] {
            fold(
                conn,
                tier,
                id,
                &Bucket::of(tier.bucket_of(ts), sample.value),
            )?;
        }
        stored += 1;
    }
    Ok(stored)
}

/// Stores one raw sample as it is (for writers that fold their own rollups,
/// such as the synthetic-history seeder). A second value at the same second
/// is ignored.
pub fn insert_raw(conn: &Connection, id: i64, ts: i64, value: f64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO series_raw (series_id, ts, value) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?
    .execute(params![id, ts, value])?;
    Ok(())
}

/// Folds `bucket` into the stored rollup row of its tier.
pub fn fold(conn: &Connection, tier: Tier, id: i64, bucket: &Bucket) -> Result<(), StoreError> {
    let sql = match tier {
        Tier::Raw => return Ok(()),
        Tier::Minute => UPSERT_1M,
        Tier::Hour => UPSERT_1H,
    };
    conn.prepare_cached(sql)?.execute(params![
        id,
        bucket.ts,
        bucket.min,
        bucket.max,
        bucket.sum,
        bucket.count
    ])?;
    Ok(())
}

const UPSERT_1M: &str = "INSERT INTO series_1m (series_id, ts, min, max, sum, count) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET \
     min = min(min, excluded.min), max = max(max, excluded.max), \
     sum = sum + excluded.sum, count = count + excluded.count";
const UPSERT_1H: &str = "INSERT INTO series_1h (series_id, ts, min, max, sum, count) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET \
     min = min(min, excluded.min), max = max(max, excluded.max), \
     sum = sum + excluded.sum, count = count + excluded.count";

fn info_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, SeriesInfo)> {
    let unit: String = row.get(2)?;
    Ok((
        row.get(0)?,
        SeriesInfo {
            name: row.get(1)?,
            unit: Unit::parse(&unit).unwrap_or(Unit::Count),
            label: row.get(3)?,
        },
    ))
}

/// Every series, by name.
pub fn list(conn: &Connection) -> Result<Vec<SeriesInfo>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, name, unit, label FROM series ORDER BY name")?;
    let rows = stmt.query_map([], info_of)?;
    Ok(rows
        .map(|r| r.map(|(_, info)| info))
        .collect::<Result<_, _>>()?)
}

/// Series ids, for tasks that walk every series.
pub fn ids(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM series ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn find(conn: &Connection, name: &str) -> Result<Option<(i64, SeriesInfo)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, unit, label FROM series WHERE name = ?1")?;
    Ok(stmt.query_row([name], info_of).optional()?)
}

/// The stored buckets of one series in `[from, to]`, oldest first. Raw rows
/// come back as one-sample buckets.
pub fn range(
    conn: &Connection,
    tier: Tier,
    id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<Bucket>, StoreError> {
    let sql = match tier {
        Tier::Raw => {
            "SELECT ts, value, value, value, 1 FROM series_raw \
             WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts"
        }
        Tier::Minute => {
            "SELECT ts, min, max, sum, count FROM series_1m \
             WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts"
        }
        Tier::Hour => {
            "SELECT ts, min, max, sum, count FROM series_1h \
             WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts"
        }
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![id, from, to], |r| {
        Ok(Bucket {
            ts: r.get(0)?,
            min: r.get(1)?,
            max: r.get(2)?,
            sum: r.get(3)?,
            count: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes up to `limit` rows of series `id` in `tier` older than `before`
/// (Unix seconds), oldest first. Returns how many went.
pub fn delete_older(
    conn: &Connection,
    tier: Tier,
    id: i64,
    before: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    let table = tier.table();
    let sql = format!(
        "DELETE FROM {table} WHERE series_id = ?1 AND ts IN \
         (SELECT ts FROM {table} WHERE series_id = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3)"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .execute(params![id, before, limit])?)
}

/// Deletes series `name` and all its rows in every tier (its source is gone).
pub fn forget(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let Some((id, _)) = find(conn, name)? else {
        return Ok(());
    };
    for tier in Tier::ALL {
        conn.execute(
            &format!("DELETE FROM {} WHERE series_id = ?1", tier.table()),
            [id],
        )?;
    }
    conn.execute("DELETE FROM series WHERE id = ?1", [id])?;
    Ok(())
}

/// Rows and bytes (pages, including their free space) of the series tables.
pub fn footprint(conn: &Connection) -> Result<Footprint, StoreError> {
    let mut rows = 0;
    for tier in Tier::ALL {
        let n: i64 =
            conn.query_row(&format!("SELECT count(*) FROM {}", tier.table()), [], |r| {
                r.get(0)
            })?;
        rows += n;
    }
    let bytes: i64 = conn.query_row(
        "SELECT coalesce(sum(pgsize), 0) FROM dbstat \
         WHERE name IN ('series', 'series_raw', 'series_1m', 'series_1h') \
            OR name LIKE 'sqlite_autoindex_series%'",
        [],
        |r| r.get(0),
    )?;
    Ok(Footprint { rows, bytes })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    pub rows: i64,
    pub bytes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store;

    pub(crate) fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        store::migrate(&mut conn).unwrap();
        conn
    }

    fn sample(name: &str, value: f64) -> Sample {
        Sample {
            name: name.into(),
            unit: Unit::Percent,
            label: name.into(),
            value,
        }
    }

    #[test]
    fn a_sample_lands_in_every_tier() {
        let conn = db();
        record(&conn, 125, &[sample("cpu", 10.0)]).unwrap();
        record(&conn, 135, &[sample("cpu", 30.0)]).unwrap();
        let (id, info) = find(&conn, "cpu").unwrap().unwrap();
        assert_eq!(info.unit, Unit::Percent);
        assert_eq!(range(&conn, Tier::Raw, id, 0, 200).unwrap().len(), 2);
        let minute = range(&conn, Tier::Minute, id, 0, 200).unwrap();
        assert_eq!(
            minute,
            vec![Bucket {
                ts: 120,
                min: 10.0,
                max: 30.0,
                sum: 40.0,
                count: 2
            }]
        );
        assert_eq!(range(&conn, Tier::Hour, id, 0, 200).unwrap()[0].ts, 0);
    }

    #[test]
    fn non_finite_values_are_not_stored() {
        let conn = db();
        let n = record(&conn, 1, &[sample("a", f64::NAN), sample("b", 1.0)]).unwrap();
        assert_eq!(n, 1);
        assert_eq!(list(&conn).unwrap().len(), 1);
    }

    #[test]
    fn a_series_keeps_its_id_and_takes_a_new_label() {
        let conn = db();
        record(&conn, 1, &[sample("a", 1.0)]).unwrap();
        let (id, _) = find(&conn, "a").unwrap().unwrap();
        let mut renamed = sample("a", 2.0);
        renamed.label = "Renamed".into();
        record(&conn, 2, &[renamed]).unwrap();
        let (again, info) = find(&conn, "a").unwrap().unwrap();
        assert_eq!((again, info.label.as_str()), (id, "Renamed"));
    }

    #[test]
    fn deleting_takes_the_oldest_rows_up_to_the_limit() {
        let conn = db();
        for ts in 0..10 {
            record(&conn, ts * 10, &[sample("a", 1.0)]).unwrap();
        }
        let (id, _) = find(&conn, "a").unwrap().unwrap();
        assert_eq!(delete_older(&conn, Tier::Raw, id, 50, 3).unwrap(), 3);
        assert_eq!(delete_older(&conn, Tier::Raw, id, 50, 3).unwrap(), 2);
        assert_eq!(delete_older(&conn, Tier::Raw, id, 50, 3).unwrap(), 0);
        let left: Vec<i64> = range(&conn, Tier::Raw, id, 0, 1000)
            .unwrap()
            .iter()
            .map(|b| b.ts)
            .collect();
        assert_eq!(left, vec![50, 60, 70, 80, 90]);
    }
}
