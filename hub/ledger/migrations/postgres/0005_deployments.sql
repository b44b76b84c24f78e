-- Deployed configurations: every version kept, with who deployed it and when; one is active.
CREATE TABLE deployments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document TEXT NOT NULL,
    digest TEXT NOT NULL,
    deployed_by TEXT NOT NULL,
    deployed_at TEXT NOT NULL,
    note TEXT,
    active BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX deployments_active ON deployments (active, id);
