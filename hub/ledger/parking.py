"""Messages that arrive before their order: parked, then applied when the order arrives.

Channels and payment providers promise no order between their webhooks: a Stripe capture, a 3PL's
shipment or a refund may reach the hub before the order it names. Refusing such a message would
send a perfectly good event to the dead-letter queue (or, retried, into a loop); applying it later
is what in-order delivery would have done. So the ledger keeps it:

* :func:`park`: the message's idempotency key is stored with outcome ``parked`` (a redelivery is a
  ``duplicate``) and its envelope goes to ``parked_messages``, in the same transaction.
* :func:`resume_parked`: the transaction that first stores the order applies its parked messages
  in arrival order, each in its own savepoint, and marks their keys ``applied``. One that the ledger
  refuses even now (shipping more than was ordered, say) is kept with status ``rejected`` and the
  reason, and its key is dropped, exactly as for a message refused on arrival, so it can be
  replayed after a fix; the order and the other parked messages still commit.

Only handlers that call ``require_order`` before any effect can park (shipments, payments, returns,
tax commits, fulfilment requests). Order snapshots need no parking: newest-snapshot-wins already
makes an update, a payment status or a cancellation that beats the create converge.
"""

from __future__ import annotations

from canonical import Envelope
from hub.ledger.errors import MessageRejectedError, OrderNotYetKnownError
from hub.ledger.work import Work, now_text

__all__ = ["ORDER_EVENTS", "park", "resume_parked"]

#: Event types whose handler may store a new order (and so resume what is parked for it).
ORDER_EVENTS = frozenset({"order.created", "order.updated", "order.cancelled"})


def park(work: Work, envelope: Envelope, missing: OrderNotYetKnownError) -> str:
    """Keep ``envelope`` until its order arrives; its processed row says ``parked``.

    The caller's savepoint is still open and the handler changed nothing (it failed in
    ``require_order``, which also took the order key's lock, so the order cannot be stored by
    another transaction before this one commits).
    """
    work.remember("parked", (missing.tenant, missing.order_key))
    work.parked_for[(missing.tenant, missing.order_key)] = True
    work.db.execute(
        "UPDATE processed_messages SET outcome = 'parked' WHERE tenant = ? AND idempotency_key = ?",
        (envelope.tenant, envelope.idempotency_key),
    )
    work.db.execute(
        "INSERT INTO parked_messages (tenant, order_key, idempotency_key, message_id, event_type, "
        "envelope, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            missing.tenant,
            missing.order_key,
            envelope.idempotency_key,
            str(envelope.message_id),
            envelope.event_type,
            envelope.model_dump_json(),
            now_text(),
        ),
    )
    return (
        f"order {missing.order_key!r} is not in the ledger yet; parked until it arrives, then "
        "applied in arrival order"
    )


def resume_parked(work: Work, tenant: str, order_key: str) -> int:
    """Apply the messages parked for a just-stored order, oldest first; returns how many applied."""
    from hub.ledger.handlers import HANDLERS  # handlers import orders, which import nothing here

    if work.parked_for.get((tenant, order_key)) is False:  # the batch's prefetch looked: none
        return 0
    rows = work.db.query(
        "SELECT id, envelope FROM parked_messages WHERE tenant = ? AND order_key = ? "
        "AND status = 'parked' ORDER BY id",
        (tenant, order_key),
    )
    applied = 0
    outer_message, outer_trace = work.message_id, work.traceparent
    for parked_id, text in rows:
        envelope = Envelope.model_validate_json(text)
        work.message_id = str(envelope.message_id)
        work.traceparent = envelope.traceparent
        mark = work.deferred_mark()
        undo = work.undo_mark()
        work.db.statements("SAVEPOINT parked")
        try:
            HANDLERS[envelope.event_type](work, envelope)
        except MessageRejectedError as error:
            # The ledger's logic refused it (in the optimistic pass a database error is never
            # turned into a refusal, so this is this message's own): undo it alone.
            work.db.statements("ROLLBACK TO SAVEPOINT parked", "RELEASE SAVEPOINT parked")
            work.undo_to(undo)
            work.deferred_rollback(mark)
            work.db.execute(
                "UPDATE parked_messages SET status = 'rejected', reason = ? WHERE id = ?",
                (f"{error.code}: {error.reason}", parked_id),
            )
            work.db.execute(
                "DELETE FROM processed_messages WHERE tenant = ? AND idempotency_key = ?",
                (envelope.tenant, envelope.idempotency_key),
            )
            continue
        work.db.statements("RELEASE SAVEPOINT parked")
        work.undo_release(undo)
        work.db.execute("DELETE FROM parked_messages WHERE id = ?", (parked_id,))
        work.db.execute(
            "UPDATE processed_messages SET outcome = 'applied' "
            "WHERE tenant = ? AND idempotency_key = ?",
            (envelope.tenant, envelope.idempotency_key),
        )
        applied += 1
    work.message_id, work.traceparent = outer_message, outer_trace
    return applied
