-- Health checks of the team's services. `spec` is the check's definition as
-- JSON (the same shape as a `[[checks]]` entry, headers excepted); request
-- headers can hold credentials, so they are sealed apart in `headers_sealed`.
-- `origin` says who owns the row: 'ui' (pages and API), 'config'
-- (`[[checks]]`, read-only in the UI) or 'builtin' (Watchpost's self-checks).
CREATE TABLE checks (
    id              INTEGER PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    spec            TEXT NOT NULL,
    headers_sealed  BLOB,
    origin          TEXT NOT NULL DEFAULT 'ui',
    public          INTEGER NOT NULL DEFAULT 0,
    paused          INTEGER NOT NULL DEFAULT 0,
    -- Heartbeats: SHA-256 of the ping token (for lookup) and the token sealed (to show it).
    ping_hash       TEXT UNIQUE,
    ping_sealed     BLOB,
    state           TEXT NOT NULL DEFAULT 'pending',
    state_since_ms  INTEGER NOT NULL,
    fails           INTEGER NOT NULL DEFAULT 0,
    successes       INTEGER NOT NULL DEFAULT 0,
    last_run_ms     INTEGER,
    last_latency_ms REAL,
    last_error      TEXT,
    cert_days       INTEGER,
    last_ping_ms    INTEGER,
    last_start_ms   INTEGER,
    last_ping_kind  TEXT,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);

-- One row per run (raw results are kept 7 days by default).
CREATE TABLE check_results (
    check_id   INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    ts_ms      INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    latency_ms REAL,
    reason     TEXT,
    PRIMARY KEY (check_id, ts_ms)
) WITHOUT ROWID;
CREATE INDEX check_results_ts ON check_results (ts_ms);

-- Runs per UTC day and outcome, for uptime over long ranges.
CREATE TABLE check_uptime_days (
    check_id    INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    day         INTEGER NOT NULL,
    up          INTEGER NOT NULL DEFAULT 0,
    degraded    INTEGER NOT NULL DEFAULT 0,
    down        INTEGER NOT NULL DEFAULT 0,
    maintenance INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (check_id, day)
) WITHOUT ROWID;

-- The same per UTC hour, for uptime over the last 24 h and 7 d (kept a day
-- longer than the raw results).
CREATE TABLE check_uptime_hours (
    check_id    INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    hour        INTEGER NOT NULL,
    up          INTEGER NOT NULL DEFAULT 0,
    degraded    INTEGER NOT NULL DEFAULT 0,
    down        INTEGER NOT NULL DEFAULT 0,
    maintenance INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (check_id, hour)
) WITHOUT ROWID;

-- From leaving `up` until coming back; `severity` is the worst state seen.
CREATE TABLE check_incidents (
    id          INTEGER PRIMARY KEY,
    check_id    INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER,
    severity    TEXT NOT NULL,
    first_error TEXT NOT NULL
);
CREATE INDEX check_incidents_check ON check_incidents (check_id, started_ms);
CREATE UNIQUE INDEX check_incidents_open ON check_incidents (check_id) WHERE ended_ms IS NULL;

-- Notes an admin writes on an incident (shown on the public status page
-- for public checks).
CREATE TABLE check_incident_notes (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES check_incidents (id) ON DELETE CASCADE,
    ts_ms       INTEGER NOT NULL,
    author      TEXT NOT NULL,
    body        TEXT NOT NULL
);

-- Maintenance windows: 'once' (starts_ms..ends_ms) or 'weekly' (weekday
-- 0 = Monday, start minute of the UTC day, length in minutes).
CREATE TABLE check_maintenance (
    id           INTEGER PRIMARY KEY,
    check_id     INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    starts_ms    INTEGER,
    ends_ms      INTEGER,
    weekday      INTEGER,
    start_minute INTEGER,
    minutes      INTEGER,
    note         TEXT NOT NULL DEFAULT ''
);

-- Heartbeat pings, with the optional body (at most 10 KiB).
CREATE TABLE check_pings (
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    ts_ms    INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    body     TEXT
);
CREATE INDEX check_pings_check ON check_pings (check_id, ts_ms);
CREATE INDEX check_pings_ts ON check_pings (ts_ms);
