-- Operations: dead letters, held messages (exception and review queues) and the audit log.
CREATE TABLE dead_letters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant TEXT NOT NULL,
    raw_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    instance TEXT NOT NULL,
    event TEXT NOT NULL,
    reason TEXT NOT NULL,
    errors TEXT NOT NULL,
    raw TEXT NOT NULL,
    envelope TEXT,
    failed_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    replay_count INTEGER NOT NULL DEFAULT 0,
    replayed_at TEXT,
    UNIQUE (tenant, raw_id, stage)
);
CREATE INDEX dead_letters_open ON dead_letters (tenant, status, id);
CREATE TABLE held_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant TEXT NOT NULL,
    queue TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    order_key TEXT,
    raw TEXT NOT NULL,
    envelope TEXT NOT NULL,
    passed_rules TEXT NOT NULL,
    held_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    decided_at TEXT,
    actor TEXT,
    note TEXT
);
CREATE UNIQUE INDEX held_messages_one_open ON held_messages (tenant, idempotency_key, rule) WHERE status = 'open';
CREATE INDEX held_messages_queue ON held_messages (tenant, queue, status, id);
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant TEXT NOT NULL,
    message_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    correlation_id TEXT,
    trace_id TEXT,
    order_key TEXT,
    actor TEXT,
    details TEXT NOT NULL,
    at TEXT NOT NULL,
    sequence BIGINT,
    previous_hash TEXT,
    hash TEXT
);
CREATE INDEX audit_log_message ON audit_log (tenant, message_id, id);
CREATE INDEX audit_log_order ON audit_log (tenant, order_key, id);
CREATE INDEX audit_log_unsealed ON audit_log (tenant, sequence, id);
CREATE TABLE audit_chain_heads (
    tenant TEXT PRIMARY KEY,
    sequence BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE catalog_prices (
    tenant TEXT NOT NULL,
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (tenant, channel, sku)
);
