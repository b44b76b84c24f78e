-- The W3C trace context of the message whose change wrote the event: the relay's push
-- continues that message's trace (webhook -> ledger -> channel push in one trace).
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
