-- Threat detection. `ip_bans` (from the accounts work) grows what the
-- detectors record: which detector, when the sender was first seen, how
-- many hits earned the ban, who lifted it, and when its end was noticed
-- (so `ban.expired` and the unban command happen once). `ip` holds an
-- address or a CIDR block.
ALTER TABLE ip_bans ADD COLUMN detector TEXT;
ALTER TABLE ip_bans ADD COLUMN first_seen_ms INTEGER;
ALTER TABLE ip_bans ADD COLUMN hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ip_bans ADD COLUMN lifted_by TEXT;
ALTER TABLE ip_bans ADD COLUMN ended_ms INTEGER;
CREATE INDEX ip_bans_open ON ip_bans (until_ms) WHERE ended_ms IS NULL;

-- One row per (kind, IP, minute) with a count: an attack does not become a
-- write storm. `details` is JSON, redacted and truncated.
CREATE TABLE security_events (
    id         INTEGER PRIMARY KEY,
    minute_ms  INTEGER NOT NULL,
    first_ms   INTEGER NOT NULL,
    last_ms    INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    ip         TEXT NOT NULL,
    source     TEXT NOT NULL,
    request_id TEXT,
    details    TEXT NOT NULL,
    count      INTEGER NOT NULL,
    UNIQUE (kind, ip, minute_ms)
) STRICT;
CREATE INDEX security_events_by_minute ON security_events (minute_ms);
CREATE INDEX security_events_by_ip ON security_events (ip, minute_ms);

-- sshd authentication failures, counted per hour, address, user and kind.
CREATE TABLE ssh_failures (
    hour_ms INTEGER NOT NULL,
    ip      TEXT NOT NULL,
    user    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, ip, user, kind)
) STRICT, WITHOUT ROWID;

-- Where each watched log stands: the file's inode and the byte offset after
-- the last line read (files), or the journal cursor (journald).
CREATE TABLE log_positions (
    source_id  TEXT NOT NULL,
    path       TEXT NOT NULL,
    inode      INTEGER NOT NULL,
    offset     INTEGER NOT NULL,
    cursor     TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (source_id, path)
) STRICT;

-- Signed inbound webhooks: the shared secret sealed at rest. `origin` is
-- 'ui' or 'config' (`[[threats.hooks]]`, read-only in the UI).
CREATE TABLE hooks (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    secret_sealed BLOB NOT NULL,
    origin        TEXT NOT NULL DEFAULT 'ui',
    created_ms    INTEGER NOT NULL,
    last_used_ms  INTEGER
) STRICT;

-- What accepted deliveries said: deploy markers and annotations for charts.
CREATE TABLE hook_events (
    id      INTEGER PRIMARY KEY,
    hook    TEXT NOT NULL,
    ts_ms   INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    title   TEXT NOT NULL,
    payload TEXT NOT NULL
) STRICT;
CREATE INDEX hook_events_by_time ON hook_events (ts_ms);
