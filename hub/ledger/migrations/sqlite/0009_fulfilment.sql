-- Fulfilment: what each request released to a node, what physically shipped against it, the
-- mismatches found when the two were compared, and lot and serial control.
-- Written by hub/ledger/shipments.py and hub/ledger/lots.py inside the ledger's transaction, so a
-- shipment's effect on positions, its reconciliation findings and its idempotency key commit
-- together.
CREATE TABLE fulfilment_requests (
    tenant TEXT NOT NULL,
    request_id TEXT NOT NULL,
    order_key TEXT NOT NULL,
    location TEXT NOT NULL,
    carrier TEXT,
    service_level TEXT,
    requested_at TEXT NOT NULL,
    ship_by TEXT,
    commit_by TEXT,
    -- open, partially_shipped, shipped, short_closed, cancelled
    status TEXT NOT NULL,
    closed_at TEXT,
    message_id TEXT NOT NULL,
    PRIMARY KEY (tenant, request_id)
);
CREATE INDEX fulfilment_requests_order ON fulfilment_requests (tenant, order_key);
CREATE TABLE fulfilment_request_lines (
    tenant TEXT NOT NULL,
    request_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    line_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    lot TEXT,
    shipped INTEGER NOT NULL DEFAULT 0 CHECK (shipped >= 0),
    PRIMARY KEY (tenant, request_id, seq)
);
CREATE TABLE shipments (
    tenant TEXT NOT NULL,
    shipment_id TEXT NOT NULL,
    order_key TEXT NOT NULL,
    location TEXT NOT NULL,
    request_id TEXT,
    carrier TEXT,
    service TEXT,
    tracking TEXT NOT NULL,
    shipped_at TEXT NOT NULL,
    closes_request INTEGER NOT NULL DEFAULT 0,
    message_id TEXT NOT NULL,
    PRIMARY KEY (tenant, shipment_id)
);
CREATE INDEX shipments_order ON shipments (tenant, order_key);
-- What physically left, line by line: line_id is NULL for an item the order does not have.
CREATE TABLE shipment_lines (
    tenant TEXT NOT NULL,
    shipment_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    line_id TEXT,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    lots TEXT NOT NULL,
    serials TEXT NOT NULL,
    PRIMARY KEY (tenant, shipment_id, seq)
);
CREATE TABLE shipped_serials (
    tenant TEXT NOT NULL,
    sku TEXT NOT NULL,
    serial TEXT NOT NULL,
    shipment_id TEXT NOT NULL,
    order_key TEXT NOT NULL,
    shipped_at TEXT NOT NULL,
    PRIMARY KEY (tenant, sku, serial)
);
CREATE TABLE fulfilment_exceptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    order_key TEXT NOT NULL,
    request_id TEXT,
    shipment_id TEXT,
    kind TEXT NOT NULL,
    line_id TEXT,
    sku TEXT,
    expected INTEGER,
    actual INTEGER,
    detail TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    resolved_at TEXT,
    resolution TEXT,
    actor TEXT,
    message_id TEXT NOT NULL
);
CREATE INDEX fulfilment_exceptions_open ON fulfilment_exceptions (tenant, status, kind);
CREATE INDEX fulfilment_exceptions_order ON fulfilment_exceptions (tenant, order_key);
-- Lot-controlled stock per location: what is on hand in each lot, its expiry, and how much of it
-- released requests have committed (named on a request line, not shipped yet).
CREATE TABLE lot_stock (
    tenant TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    lot TEXT NOT NULL,
    expires_at TEXT,
    on_hand INTEGER NOT NULL DEFAULT 0,
    committed INTEGER NOT NULL DEFAULT 0 CHECK (committed >= 0),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, sku, location, lot)
);
-- Every change of a lot's quantity, with the order it went to: the forward trace of a lot.
CREATE TABLE lot_movements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    lot TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT,
    order_key TEXT,
    shipment_id TEXT,
    message_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL
);
CREATE INDEX lot_movements_lot ON lot_movements (tenant, lot);
CREATE INDEX fulfilment_exceptions_shipment ON fulfilment_exceptions (tenant, shipment_id);
CREATE INDEX fulfilment_exceptions_request ON fulfilment_exceptions (tenant, request_id, line_id);
CREATE INDEX shipped_serials_shipment ON shipped_serials (tenant, shipment_id);
CREATE INDEX movements_kind ON movements (tenant, kind);
