"""Commerce behaviours every order connector (storefront, marketplace) must get right.

Each behaviour takes the connector, one or more vendor samples the connector's tests provide, and
checks what the canonical result must say. They encode the cases that break integrations in
production: duplicated webhooks, out-of-order delivery, split shipments, refunds with and without
restock, ids above 2^53, multi-currency orders and products deleted after the sale.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from canonical.envelope import Envelope
from canonical.fulfillment import Shipment
from canonical.order import Order, PaymentStatus
from canonical.payment import PaymentEvent
from canonical.returns import ReturnRequest
from connectors.base import Connector
from connectors.testing.checks import (
    ConformanceFailure,
    Sample,
    default_context,
    translate,
)

__all__ = ["BEHAVIOURS", "Behaviour", "run_behaviour"]


def _one(envelopes: list[Envelope], kind: type[Any], what: str) -> Any:
    found = [e.payload for e in envelopes if isinstance(e.payload, kind)]
    if len(found) != 1:
        raise ConformanceFailure(f"{what}: expected one {kind.__name__}, got {len(found)}")
    return found[0]


def _all(cls: type[Connector], samples: tuple[Sample, ...]) -> list[list[Envelope]]:
    ctx = default_context()
    return [translate(cls, sample, ctx) for sample in samples]


def duplicated_webhook(cls: type[Connector], samples: tuple[Sample, ...], _: Any) -> None:
    ctx = default_context()
    first = translate(cls, samples[0], ctx)
    again = translate(cls, samples[0], default_context().__class__(
        tenant=ctx.tenant, instance=ctx.instance, received_at=ctx.received_at + timedelta(minutes=7)
    ))  # fmt: skip
    if not first or [e.idempotency_key for e in first] != [e.idempotency_key for e in again]:
        raise ConformanceFailure("a duplicated webhook must derive the same idempotency keys")


def paid_before_created(cls: type[Connector], samples: tuple[Sample, ...], _: Any) -> None:
    """The 'paid' update arrives first; the ledger keeps the newest snapshot, so it must be newer."""
    paid_envs, created_envs = _all(cls, samples)
    paid = _one(paid_envs, Order, "paid update")
    created = _one(created_envs, Order, "creation")
    if paid.payment_status is not PaymentStatus.PAID:
        raise ConformanceFailure(f"the paid update says {paid.payment_status}, not paid")
    if not paid.updated_at > created.updated_at:
        raise ConformanceFailure("the paid update must carry a later updated_at than the creation")
    if paid_envs[0].idempotency_key == created_envs[0].idempotency_key:
        raise ConformanceFailure("the creation and the paid update derived the same key")


def partial_fulfilment(cls: type[Connector], samples: tuple[Sample, ...], _: Any) -> None:
    shipments = [_one(envs, Shipment, "shipment") for envs in _all(cls, samples)]
    if len(shipments) != 2:
        raise ConformanceFailure("partial fulfilment needs two shipment samples")
    first, second = shipments
    if first.order != second.order:
        raise ConformanceFailure("both shipments must reference the same order")
    if first.shipment_id == second.shipment_id:
        raise ConformanceFailure("two shipments must keep two shipment ids")


def cancellation_after_invoice(cls: type[Connector], samples: tuple[Sample, ...], _: Any) -> None:
    envs = _all(cls, samples)[0]
    order = _one(envs, Order, "cancellation")
    if order.cancelled_at is None or envs[0].event_type != "order.cancelled":
        raise ConformanceFailure("a cancelled order must be emitted as order.cancelled")
    if order.payment_status is PaymentStatus.PENDING:
        raise ConformanceFailure("an invoiced (paid) order keeps its payment status when cancelled")


def _refund(cls: type[Connector], samples: tuple[Sample, ...], restock: bool) -> None:
    envs = _all(cls, samples)[0]
    payments = [e.payload for e in envs if isinstance(e.payload, PaymentEvent)]
    if not payments or any(p.kind.value != "refunded" for p in payments):
        raise ConformanceFailure("a refund must emit payment.refunded")
    returned = _one(envs, ReturnRequest, "refund")
    if any(line.restock is not restock for line in returned.lines):
        raise ConformanceFailure(f"refunded lines must say restock={restock}")


def partial_refund_with_restock(cls: type[Connector], samples: tuple[Sample, ...], _: Any) -> None:
    _refund(cls, samples, True)


def partial_refund_without_restock(
    cls: type[Connector], samples: tuple[Sample, ...], _: Any
) -> None:
    _refund(cls, samples, False)


def ids_above_2_53(cls: type[Connector], samples: tuple[Sample, ...], expected: Any) -> None:
    """``expected`` is the exact order id string; it must survive, and line ids too."""
    envs = _all(cls, samples)[0]
    order = _one(envs, Order, "order")
    if order.external_id != expected:
        raise ConformanceFailure(f"order id {order.external_id} is not exactly {expected}")
    if int(expected) <= 2**53:
        raise ConformanceFailure("the big-id sample must use an id above 2^53")
    body = samples[0].body.decode()
    for line in order.lines:
        if any(digits not in body for digits in re.findall(r"\d{6,}", line.line_id)):
            raise ConformanceFailure(f"line id {line.line_id} lost digits")


def shop_vs_presentment_currency(cls: type[Connector], samples: tuple[Sample, ...], _: Any) -> None:
    order = _one(_all(cls, samples)[0], Order, "order")
    if order.presentment is None or order.presentment.currency == order.currency:
        raise ConformanceFailure("the order must book in shop currency and keep the presentment")


def deleted_product(cls: type[Connector], samples: tuple[Sample, ...], _: Any) -> None:
    order = _one(_all(cls, samples)[0], Order, "order")
    if not any(line.product_id is None or line.sku is None for line in order.lines):
        raise ConformanceFailure("the deleted product's line must translate without product/SKU")


@dataclass(frozen=True)
class Behaviour:
    name: str
    samples: int
    check: Callable[[type[Connector], tuple[Sample, ...], Any], None]


BEHAVIOURS: dict[str, Behaviour] = {
    b.name: b
    for b in (
        Behaviour("duplicated_webhook", 1, duplicated_webhook),
        Behaviour("paid_before_created", 2, paid_before_created),
        Behaviour("partial_fulfilment", 2, partial_fulfilment),
        Behaviour("cancellation_after_invoice", 1, cancellation_after_invoice),
        Behaviour("partial_refund_with_restock", 1, partial_refund_with_restock),
        Behaviour("partial_refund_without_restock", 1, partial_refund_without_restock),
        Behaviour("ids_above_2_53", 1, ids_above_2_53),
        Behaviour("shop_vs_presentment_currency", 1, shop_vs_presentment_currency),
        Behaviour("deleted_product", 1, deleted_product),
    )
}


def run_behaviour(
    cls: type[Connector], name: str, samples: tuple[Sample, ...], expected: Any = None
) -> None:
    behaviour = BEHAVIOURS[name]
    if len(samples) != behaviour.samples:
        raise ConformanceFailure(f"{name} needs {behaviour.samples} sample(s), got {len(samples)}")
    behaviour.check(cls, samples, expected)
