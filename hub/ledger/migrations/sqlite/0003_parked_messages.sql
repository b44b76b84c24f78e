-- Messages that arrived before their order (a shipment, payment, return, tax commit or fulfilment
-- request for an order the ledger has not seen): kept here, keyed like processed_messages, and
-- applied in arrival order in the transaction that first stores the order.
-- status: 'parked' (waiting for the order) or 'rejected' (refused when re-applied; reason says why).
CREATE TABLE parked_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    order_key TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    envelope TEXT NOT NULL,
    parked_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'parked',
    reason TEXT,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX parked_messages_order ON parked_messages (tenant, order_key, status, id);
