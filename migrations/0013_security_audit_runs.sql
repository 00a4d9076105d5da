-- Security audit runs (scheduled daily, or "Run now") and their findings.
-- `passed` is a JSON array of the ids of the checks that found nothing.
-- The newest runs are kept; older ones are pruned when a run is stored.
CREATE TABLE security_audit_runs (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    high INTEGER NOT NULL,
    medium INTEGER NOT NULL,
    low INTEGER NOT NULL,
    passed TEXT NOT NULL
) STRICT;

CREATE TABLE security_audit_findings (
    run_id INTEGER NOT NULL REFERENCES security_audit_runs (id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    evidence TEXT NOT NULL,
    fix TEXT NOT NULL,
    PRIMARY KEY (run_id, finding_id)
) STRICT;
