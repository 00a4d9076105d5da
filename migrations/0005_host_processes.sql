-- The top processes by CPU and by memory at one collector sample, as JSON.
CREATE TABLE host_top_processes (
    ts         INTEGER PRIMARY KEY,
    by_cpu     TEXT NOT NULL,
    by_memory  TEXT NOT NULL
);

-- Marks a database as holding synthetic data (`watchpost dev seed-metrics`).
CREATE TABLE synthetic_data (
    kind       TEXT PRIMARY KEY,
    note       TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
