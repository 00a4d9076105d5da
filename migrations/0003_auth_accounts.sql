-- Accounts. Emails are stored normalised (trimmed, lower case). A NULL
-- password_hash is an account waiting for its one-time set-password link.
-- TOTP secrets are sealed (AES-256-GCM) before they reach this table.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    totp_secret BLOB,
    totp_pending_secret BLOB,
    totp_last_step INTEGER,
    totp_failures INTEGER NOT NULL DEFAULT 0,
    totp_failed_step INTEGER,
    created_ms INTEGER NOT NULL,
    last_login_ms INTEGER,
    password_changed_ms INTEGER
) STRICT;

-- Single-use 2FA recovery codes, stored as SHA-256 hex.
CREATE TABLE recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_ms INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- Sessions, by the SHA-256 of their 256-bit id. `stage` is how far the login
-- got: 'totp' (password accepted, code pending), 'enrol' (an admin who must
-- set up 2FA first) or 'full'.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('totp', 'enrol', 'full')),
    csrf_token TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);

-- API tokens (`wp_…`), by the SHA-256 of the token.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'metrics', 'ingest')),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    last_used_ms INTEGER,
    revoked_ms INTEGER
) STRICT;
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- One-time links: first-run setup and set-password links, by SHA-256.
CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('setup', 'set_password')),
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;

-- Every failed login, by the email as typed (normalised) and the client IP;
-- the lockout rules count these.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    email TEXT NOT NULL,
    ip TEXT NOT NULL
) STRICT;
CREATE INDEX login_failures_by_email_ip ON login_failures (email, ip, ts_ms);
CREATE INDEX login_failures_by_ip ON login_failures (ip, ts_ms);
CREATE INDEX login_failures_by_ts ON login_failures (ts_ms);

-- Locks per (email, IP): `strikes` doubles the next lock's length.
CREATE TABLE lockouts (
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    locked_ms INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    strikes INTEGER NOT NULL,
    PRIMARY KEY (email, ip)
) STRICT;

-- Temporarily banned client addresses. Password spraying adds rows now; the
-- threat detectors add theirs later.
CREATE TABLE ip_bans (
    id INTEGER PRIMARY KEY,
    ip TEXT NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    lifted_ms INTEGER
) STRICT;
CREATE INDEX ip_bans_by_ip ON ip_bans (ip, until_ms);
