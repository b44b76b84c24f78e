-- Procurement records (purchase orders, advance ship notices, receipts), kept so the hub can
-- measure each supplier's real lead time, on-time and in-full rates, and see inbound delays.
-- Written by hub/replenishment/records.py inside the ledger's transaction; one row per document
-- and one per (document, SKU), a later version of a document replacing the earlier one.
CREATE TABLE purchase_orders (
    tenant TEXT NOT NULL,
    po_number TEXT NOT NULL,
    supplier TEXT NOT NULL,
    location TEXT NOT NULL,
    ordered_at TEXT NOT NULL,
    expected_at TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (tenant, po_number)
);
CREATE INDEX purchase_orders_supplier ON purchase_orders (tenant, supplier, ordered_at);
CREATE TABLE purchase_order_lines (
    tenant TEXT NOT NULL,
    po_number TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    expected_at TEXT,
    PRIMARY KEY (tenant, po_number, sku)
);
CREATE INDEX purchase_order_lines_sku ON purchase_order_lines (tenant, sku);
CREATE TABLE ship_notices (
    tenant TEXT NOT NULL,
    asn_id TEXT NOT NULL,
    po_number TEXT NOT NULL,
    supplier TEXT NOT NULL,
    location TEXT NOT NULL,
    shipped_at TEXT NOT NULL,
    expected_at TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (tenant, asn_id)
);
CREATE INDEX ship_notices_po ON ship_notices (tenant, po_number);
CREATE TABLE ship_notice_lines (
    tenant TEXT NOT NULL,
    asn_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (tenant, asn_id, sku)
);
CREATE TABLE procurement_receipts (
    tenant TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    po_number TEXT,
    asn_id TEXT,
    supplier TEXT,
    location TEXT NOT NULL,
    received_at TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (tenant, receipt_id)
);
CREATE INDEX procurement_receipts_po ON procurement_receipts (tenant, po_number);
CREATE TABLE procurement_receipt_lines (
    tenant TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (tenant, receipt_id, sku)
);
