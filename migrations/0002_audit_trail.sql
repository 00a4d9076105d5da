-- The audit trail: append-only and hash-chained (see src/audit_trail/mod.rs
-- for the canonical form). Columns up to `hash` are canonical: they are
-- hashed and never change. `actor_email`, `ip`, `user_agent` and
-- `pii_details` are the row's personal data, outside the canonical form and
-- covered by `pii_digest`; erasure sets them to NULL and `erased_ms` to when.
CREATE TABLE audit_trail (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'system', 'cli', 'anonymous')),
    actor_id INTEGER,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    request_id TEXT,
    details TEXT NOT NULL,
    pii_digest TEXT NOT NULL,
    prev_hash TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    actor_email TEXT,
    ip TEXT,
    user_agent TEXT,
    pii_details TEXT,
    erased_ms INTEGER
) STRICT;

CREATE INDEX audit_trail_ts ON audit_trail (ts_ms);
CREATE INDEX audit_trail_action ON audit_trail (action);

-- A new row must extend the chain: the next id, linked to the last hash (or to
-- 64 zeros for the first row).
CREATE TRIGGER audit_trail_extends_the_chain
BEFORE INSERT ON audit_trail
WHEN NEW.id IS NOT coalesce((SELECT max(id) FROM audit_trail), 0) + 1
  OR NEW.prev_hash IS NOT coalesce(
       (SELECT hash FROM audit_trail ORDER BY id DESC LIMIT 1),
       '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'audit_trail is append-only: a new row must extend the chain');
END;

-- Rows are never deleted.
CREATE TRIGGER audit_trail_no_delete
BEFORE DELETE ON audit_trail
BEGIN
    SELECT RAISE(ABORT, 'audit_trail is append-only: rows cannot be deleted');
END;

-- The only update allowed is erasure: canonical columns unchanged, every
-- personal column set to NULL, and the time of the erasure recorded once.
CREATE TRIGGER audit_trail_only_erasure
BEFORE UPDATE ON audit_trail
WHEN NOT (
        NEW.id IS OLD.id AND NEW.ts_ms IS OLD.ts_ms
    AND NEW.actor_kind IS OLD.actor_kind AND NEW.actor_id IS OLD.actor_id
    AND NEW.action IS OLD.action AND NEW.target IS OLD.target
    AND NEW.outcome IS OLD.outcome AND NEW.request_id IS OLD.request_id
    AND NEW.details IS OLD.details AND NEW.pii_digest IS OLD.pii_digest
    AND NEW.prev_hash IS OLD.prev_hash AND NEW.hash IS OLD.hash
    AND NEW.actor_email IS NULL AND NEW.ip IS NULL
    AND NEW.user_agent IS NULL AND NEW.pii_details IS NULL
    AND NEW.erased_ms IS NOT NULL
    AND (OLD.erased_ms IS NULL OR NEW.erased_ms IS OLD.erased_ms)
)
BEGIN
    SELECT RAISE(ABORT, 'audit_trail is append-only: only erasure of personal data may update a row');
END;
