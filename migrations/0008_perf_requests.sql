-- Request statistics per (source, route, method, status class): one row per
-- minute (kept days) and one per hour (kept months). `hist` is the sparse
-- latency histogram (perf::histogram), `codes` "200:15,404:2".
CREATE TABLE perf_minutes (
    source TEXT NOT NULL,
    ts     INTEGER NOT NULL,
    route  TEXT NOT NULL,
    method TEXT NOT NULL,
    class  INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    sum_us INTEGER NOT NULL,
    max_us INTEGER NOT NULL,
    hist   BLOB NOT NULL,
    codes  TEXT NOT NULL,
    PRIMARY KEY (source, ts, route, method, class)
) STRICT, WITHOUT ROWID;

CREATE TABLE perf_hours (
    source TEXT NOT NULL,
    ts     INTEGER NOT NULL,
    route  TEXT NOT NULL,
    method TEXT NOT NULL,
    class  INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    sum_us INTEGER NOT NULL,
    max_us INTEGER NOT NULL,
    hist   BLOB NOT NULL,
    codes  TEXT NOT NULL,
    PRIMARY KEY (source, ts, route, method, class)
) STRICT, WITHOUT ROWID;

-- Each route's usual p50/p95 and 5xx rate, recomputed hourly.
CREATE TABLE perf_baselines (
    source      TEXT NOT NULL,
    route       TEXT NOT NULL,
    method      TEXT NOT NULL,
    p50_ms      REAL NOT NULL,
    p95_ms      REAL NOT NULL,
    error_rate  REAL NOT NULL,
    requests    INTEGER NOT NULL,
    computed_ms INTEGER NOT NULL,
    PRIMARY KEY (source, route, method)
) STRICT;

-- Regressions: opened when a route goes over its baseline, closed when it
-- has been back under long enough.
CREATE TABLE perf_regressions (
    id         INTEGER PRIMARY KEY,
    source     TEXT NOT NULL,
    route      TEXT NOT NULL,
    method     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    cleared_ms INTEGER
) STRICT;
CREATE INDEX perf_regressions_by_time ON perf_regressions (started_ms);

-- Deploy markers: from the API, or from a signed hook.
CREATE TABLE deploys (
    id      INTEGER PRIMARY KEY,
    ts_ms   INTEGER NOT NULL,
    version TEXT NOT NULL,
    source  TEXT NOT NULL,
    notes   TEXT NOT NULL,
    origin  TEXT NOT NULL
) STRICT;
CREATE INDEX deploys_by_time ON deploys (ts_ms);

-- The slowest recent requests (the last 100 per source), query redacted.
CREATE TABLE perf_slow (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    ts_ms       INTEGER NOT NULL,
    route       TEXT NOT NULL,
    method      TEXT NOT NULL,
    status      INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    request_id  TEXT,
    path        TEXT NOT NULL
) STRICT;
CREATE INDEX perf_slow_by_source ON perf_slow (source, ts_ms);
