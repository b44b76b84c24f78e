-- Returned serials. shipped_serials keeps, per SKU and serial, who has the unit now: the last
-- shipment and order it went out with and, once a return brought it back, the RMA and when.
-- A serial whose row has returned_at set is back on the shelf, so shipping it again is not a
-- duplicate (the row then names the new shipment and its return columns are cleared).
ALTER TABLE shipped_serials ADD COLUMN returned_at TEXT;
ALTER TABLE shipped_serials ADD COLUMN rma_id TEXT;
-- Every serial a received return brought back, once per RMA line: the history that outlives the
-- next shipment of the unit, and what keeps a later status of the same RMA (inspected after
-- received) from marking it or opening its exception twice. shipment_id is the shipment of the
-- order that had sent the unit out; NULL when the order never shipped that serial
-- (a serial_not_shipped exception was opened).
CREATE TABLE returned_serials (
    tenant TEXT NOT NULL,
    rma_id TEXT NOT NULL,
    line_id TEXT NOT NULL,
    serial TEXT NOT NULL,
    sku TEXT NOT NULL,
    order_key TEXT NOT NULL,
    shipment_id TEXT,
    returned_at TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (tenant, rma_id, line_id, serial)
);
CREATE INDEX returned_serials_serial ON returned_serials (tenant, sku, serial);
-- The return a fulfilment exception is about (serial_not_shipped), beside request and shipment.
ALTER TABLE fulfilment_exceptions ADD COLUMN rma_id TEXT;
