-- Error tracking, the ingest fast path: projects, their DSN keys, and the
-- raw items SDKs sent, committed (deflate-compressed) before the answer.
-- A digest task turns them into issues; `digested` marks its progress.
CREATE TABLE error_projects (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    platform   TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE error_keys (
    public_key TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    active     INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE error_items (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    -- event | transaction | sessions | client_report
    kind        TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    payload     BLOB NOT NULL,
    digested    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX error_items_pending ON error_items (digested, id);

-- Items of every other type are skipped and counted here.
CREATE TABLE error_skipped (
    project_id INTEGER NOT NULL REFERENCES error_projects (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (project_id, kind)
) STRICT;
