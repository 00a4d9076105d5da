-- Alert rules and channels as stored: the shipped defaults, the entries of
-- the configuration file (managed there, read-only elsewhere) and those made
-- in the UI or the API. A channel's definition holds its credentials (a
-- Slack URL, a bot token, an SMTP password), so it is sealed (AES-256-GCM).
CREATE TABLE alert_rules (
    id         TEXT PRIMARY KEY,
    -- The rule as written in [[alerts.rules]], as JSON.
    definition TEXT NOT NULL,
    -- default | config | ui
    origin     TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE alert_channels (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    -- The [[alerts.channels]] entry as JSON, sealed.
    sealed     BLOB NOT NULL,
    -- config | ui
    origin     TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
