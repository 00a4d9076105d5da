-- The installation itself: one row, written at first start.
CREATE TABLE instance (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    install_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;

-- The health task's periodic write probe: one row, rewritten every interval.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    written_ms INTEGER NOT NULL
) STRICT;
