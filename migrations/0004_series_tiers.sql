-- Numeric time series (DESIGN §7). `series` names each one; its samples live
-- in three tiers keyed by (series, time) so one series' range is one
-- contiguous scan. Times are Unix seconds; rollup rows are keyed by the start
-- of their minute or hour and keep min, max, sum and count (avg = sum/count).
CREATE TABLE series (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    unit       TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE series_raw (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL,
    value     REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

CREATE TABLE series_1m (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

CREATE TABLE series_1h (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts        INTEGER NOT NULL,
    min       REAL NOT NULL,
    max       REAL NOT NULL,
    sum       REAL NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
