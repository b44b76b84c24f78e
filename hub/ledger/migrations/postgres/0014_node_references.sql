-- The node's own id for a released fulfilment request (a ShipBob order id, the EasyPost shipment
-- whose label was bought), as `Connector.request_fulfillment` returned it to the outbox relay,
-- and when the ledger recorded it (UTC ISO text, like the table's other moments). NULL until the
-- node answered, and for requests released before this migration or to a node that gives none.
-- Columns rather than a table of their own: a request has one reference at its node at a time;
-- a later, different answer replaces it, and the order's history (order_history) keeps the
-- change, so a second table would hold nothing the timeline does not.
ALTER TABLE fulfilment_requests ADD COLUMN node_reference TEXT;
ALTER TABLE fulfilment_requests ADD COLUMN node_reference_at TEXT;
