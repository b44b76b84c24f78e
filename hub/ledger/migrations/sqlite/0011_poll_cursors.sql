-- Scheduled polls (hub/polling.py): per connector instance and poll, the durable high-water mark
-- of a windowed poll and how the last run went. Written outside the ledger's message
-- transactions: a poll's items reach the ledger as messages, through the pipeline.
CREATE TABLE poll_cursors (
    tenant TEXT NOT NULL,
    instance TEXT NOT NULL,
    poll TEXT NOT NULL,
    high_water TEXT,
    last_started TEXT NOT NULL,
    last_finished TEXT,
    last_outcome TEXT NOT NULL,
    last_error TEXT,
    last_items INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, instance, poll)
);
