-- Deployed configurations: every version kept, with who deployed it and when; one is active.
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document TEXT NOT NULL,
    digest TEXT NOT NULL,
    deployed_by TEXT NOT NULL,
    deployed_at TEXT NOT NULL,
    note TEXT,
    active BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX deployments_active ON deployments (active, id);
