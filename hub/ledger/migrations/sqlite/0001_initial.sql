-- The ledger's first schema (SQLite). Timestamps are UTC ISO-8601 text, which sorts correctly.
CREATE TABLE skus (
    tenant TEXT NOT NULL,
    sku TEXT NOT NULL,
    gtin TEXT,
    tracking TEXT NOT NULL DEFAULT 'none' CHECK (tracking IN ('none', 'lot', 'serial')),
    backorder_allowed INTEGER NOT NULL DEFAULT 0,
    title TEXT,
    PRIMARY KEY (tenant, sku)
);
CREATE TABLE locations (
    tenant TEXT NOT NULL,
    location TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'warehouse',
    region TEXT,
    priority INTEGER NOT NULL DEFAULT 100,
    PRIMARY KEY (tenant, location)
);
CREATE TABLE channels (
    tenant TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'other',
    PRIMARY KEY (tenant, channel)
);
CREATE TABLE sku_external_ids (
    tenant TEXT NOT NULL,
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    id_kind TEXT NOT NULL,
    PRIMARY KEY (tenant, channel, external_id)
);
CREATE TABLE positions (
    tenant TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    on_hand INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    allocated INTEGER NOT NULL DEFAULT 0 CHECK (allocated >= 0),
    in_transit INTEGER NOT NULL DEFAULT 0 CHECK (in_transit >= 0),
    returns_pending INTEGER NOT NULL DEFAULT 0 CHECK (returns_pending >= 0),
    damaged INTEGER NOT NULL DEFAULT 0 CHECK (damaged >= 0),
    safety_stock INTEGER NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, sku, location)
);
CREATE TABLE movements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    message_id TEXT NOT NULL,
    movement_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    d_on_hand INTEGER NOT NULL DEFAULT 0,
    d_allocated INTEGER NOT NULL DEFAULT 0,
    d_in_transit INTEGER NOT NULL DEFAULT 0,
    d_returns_pending INTEGER NOT NULL DEFAULT 0,
    d_damaged INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    reference TEXT,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX movements_position ON movements (tenant, sku, location);
CREATE TABLE channel_atp (
    tenant TEXT NOT NULL,
    sku TEXT NOT NULL,
    channel TEXT NOT NULL,
    available INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, sku, channel)
);
CREATE TABLE processed_messages (
    tenant TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (tenant, idempotency_key)
);
CREATE TABLE orders (
    tenant TEXT NOT NULL,
    order_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    source_version INTEGER,
    updated_at TEXT NOT NULL,
    state TEXT NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0,
    on_hold INTEGER NOT NULL DEFAULT 0,
    released INTEGER NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    total_minor INTEGER NOT NULL,
    payment_status TEXT NOT NULL,
    captured_minor INTEGER NOT NULL DEFAULT 0,
    refunded_minor INTEGER NOT NULL DEFAULT 0,
    captured_at TEXT,
    shipped_at TEXT,
    invoiced_at TEXT,
    invoice_document TEXT,
    ship_region TEXT,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (tenant, order_key)
);
CREATE TABLE order_lines (
    tenant TEXT NOT NULL,
    order_key TEXT NOT NULL,
    line_id TEXT NOT NULL,
    sku TEXT,
    quantity INTEGER NOT NULL,
    fulfillment_type TEXT NOT NULL,
    location TEXT,
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    shipped INTEGER NOT NULL DEFAULT 0 CHECK (shipped >= 0),
    returned INTEGER NOT NULL DEFAULT 0 CHECK (returned >= 0),
    status TEXT NOT NULL,
    PRIMARY KEY (tenant, order_key, line_id)
);
CREATE TABLE order_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    order_key TEXT NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    message_id TEXT NOT NULL
);
CREATE INDEX order_history_order ON order_history (tenant, order_key, id);
CREATE TABLE sourcing_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    order_key TEXT NOT NULL,
    line_id TEXT NOT NULL,
    location TEXT,
    quantity INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    message_id TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    order_key TEXT,
    kind TEXT NOT NULL,
    provider TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    transaction_id TEXT,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    message_id TEXT NOT NULL
);
CREATE INDEX payments_order ON payments (tenant, order_key);
CREATE TABLE returns (
    tenant TEXT NOT NULL,
    rma_id TEXT NOT NULL,
    order_key TEXT NOT NULL,
    status TEXT NOT NULL,
    location TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, rma_id)
);
CREATE TABLE return_lines (
    tenant TEXT NOT NULL,
    rma_id TEXT NOT NULL,
    line_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    inspected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, rma_id, line_id)
);
CREATE TABLE cycle_counts (
    tenant TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    as_of TEXT NOT NULL,
    count_id TEXT NOT NULL,
    PRIMARY KEY (tenant, sku, location)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX outbox_unpublished ON outbox (published_at, id);
