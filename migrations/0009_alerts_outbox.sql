-- Alerting: the state of each rule on each subject, every transition, the
-- outbox of notifications (committed before any delivery attempt) and the
-- silences people set.
CREATE TABLE alert_instances (
    rule_id        TEXT NOT NULL,
    subject        TEXT NOT NULL,
    phase          TEXT NOT NULL,
    since_ms       INTEGER NOT NULL,
    clear_since_ms INTEGER,
    notified_ms    INTEGER,
    -- Start times of recent firings, comma-separated (flap detection).
    recent_firings TEXT NOT NULL DEFAULT '',
    summary        TEXT NOT NULL,
    severity       TEXT NOT NULL,
    PRIMARY KEY (rule_id, subject)
) STRICT;

CREATE TABLE alert_events (
    id      INTEGER PRIMARY KEY,
    ts_ms   INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- pending | firing | inactive | resolved | flapping | notified | silenced
    event   TEXT NOT NULL,
    summary TEXT NOT NULL
) STRICT;
CREATE INDEX alert_events_ts ON alert_events (ts_ms);

CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY,
    channel_id      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    -- The notification as JSON (alerts::channels::Notification).
    body            TEXT NOT NULL,
    -- queued | sent | dead
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    created_ms      INTEGER NOT NULL,
    sent_ms         INTEGER,
    -- Set when it went out inside a digest: the digest's idempotency key.
    digest_key      TEXT
) STRICT;
CREATE INDEX alert_outbox_due ON alert_outbox (status, next_attempt_ms);
CREATE INDEX alert_outbox_sent ON alert_outbox (channel_id, sent_ms);

CREATE TABLE alert_silences (
    id         INTEGER PRIMARY KEY,
    -- Any of these narrows what is silenced; all empty silences everything.
    rule_id    TEXT NOT NULL DEFAULT '',
    subject    TEXT NOT NULL DEFAULT '',
    label      TEXT NOT NULL DEFAULT '',
    starts_ms  INTEGER NOT NULL,
    ends_ms    INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment    TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;
