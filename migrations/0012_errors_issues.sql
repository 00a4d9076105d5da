-- Error tracking, digested: issues (one per grouping key), their events
-- (scrubbed, deflate-compressed JSON), the users and tag values seen per
-- issue, per-minute event counts (for rate spikes; they survive retention),
-- sessions per release and client reports. Projects gain quotas and
-- retention settings.
ALTER TABLE error_projects ADD COLUMN quota_per_minute INTEGER;
ALTER TABLE error_projects ADD COLUMN quota_per_hour INTEGER;
ALTER TABLE error_projects ADD COLUMN keep_events INTEGER NOT NULL DEFAULT 10000;
ALTER TABLE error_projects ADD COLUMN keep_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE error_keys ADD COLUMN label TEXT NOT NULL DEFAULT 'default';
ALTER TABLE error_keys ADD COLUMN revoked_ms INTEGER;

CREATE TABLE error_issues (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    grouping_version TEXT NOT NULL,
    hash             TEXT NOT NULL,
    title            TEXT NOT NULL,
    culprit          TEXT,
    level            TEXT NOT NULL,
    -- unresolved | resolved | ignored
    status           TEXT NOT NULL DEFAULT 'unresolved'
                     CHECK (status IN ('unresolved', 'resolved', 'ignored')),
    -- resolved "in next release": the release that was current then; its
    -- own events do not reopen the issue, a later release's do.
    resolved_release TEXT,
    ignore_until_ms  INTEGER,
    ignore_until_count INTEGER,
    regressed        INTEGER NOT NULL DEFAULT 0,
    event_count      INTEGER NOT NULL DEFAULT 0,
    user_count       INTEGER NOT NULL DEFAULT 0,
    first_seen_ms    INTEGER NOT NULL,
    last_seen_ms     INTEGER NOT NULL,
    last_release     TEXT,
    last_environment TEXT,
    UNIQUE (project_id, grouping_version, hash)
) STRICT;
CREATE INDEX error_issues_last_seen ON error_issues (project_id, last_seen_ms);

CREATE TABLE error_events (
    id          INTEGER PRIMARY KEY,
    issue_id    INTEGER NOT NULL REFERENCES error_issues (id) ON DELETE CASCADE,
    project_id  INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    ts_ms       INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    level       TEXT NOT NULL,
    release     TEXT,
    environment TEXT,
    -- the scrubbed event, deflate-compressed JSON
    payload     BLOB NOT NULL
) STRICT;
CREATE INDEX error_events_issue ON error_events (issue_id, id);
CREATE INDEX error_events_project ON error_events (project_id, received_ms);

-- Users affected, by a keyed digest of who they are (no personal data).
CREATE TABLE error_issue_users (
    issue_id INTEGER NOT NULL REFERENCES error_issues (id) ON DELETE CASCADE,
    user_key TEXT NOT NULL,
    PRIMARY KEY (issue_id, user_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE error_issue_tags (
    issue_id INTEGER NOT NULL REFERENCES error_issues (id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (issue_id, key, value)
) STRICT, WITHOUT ROWID;

CREATE TABLE error_minutes (
    project_id INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    minute     INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (project_id, minute)
) STRICT, WITHOUT ROWID;

CREATE TABLE error_sessions (
    project_id  INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    release     TEXT NOT NULL,
    environment TEXT NOT NULL,
    total       INTEGER NOT NULL DEFAULT 0,
    errored     INTEGER NOT NULL DEFAULT 0,
    crashed     INTEGER NOT NULL DEFAULT 0,
    abnormal    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, release, environment)
) STRICT;

CREATE TABLE error_client_reports (
    project_id INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    reason     TEXT NOT NULL,
    category   TEXT NOT NULL,
    quantity   INTEGER NOT NULL,
    PRIMARY KEY (project_id, reason, category)
) STRICT;
