-- Retention, what each run did: per data type, when it last ran and how many
-- rows (or files) it removed then. The `/settings/retention` page and
-- `GET /api/v1/retention` show it next to each policy.
CREATE TABLE retention_runs (
    data        TEXT PRIMARY KEY,
    last_run_ms INTEGER NOT NULL,
    removed     INTEGER NOT NULL
) STRICT;
