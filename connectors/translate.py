"""Helpers for pure translation functions: read vendor fields, build envelopes, name what broke.

A translation reads a vendor payload through :class:`Fields`, whose getters know the path they
read (``line_items[2].price_set.shop_money.amount``), so any failure becomes a
:class:`~connectors.errors.TranslationError` naming the vendor field. :func:`envelope` wraps a
canonical payload with a *derived* message id (a UUIDv7 whose time is ``received_at`` and whose
other bits come from the idempotency key), so translation stays free of randomness and clocks and
the same input always prints the same output.

The commerce shapes every order channel repeats live here too: :func:`order_envelope` (an order
snapshot, its event type derived from its state, keyed by order id and version),
:func:`payment_envelope` (a payment event with its ``payment.<kind>`` event type) and
:func:`translate_each` (a page of resources, a failure naming the resource's place in the page).
"""

from __future__ import annotations

import builtins
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import ValidationError

from canonical._base import CanonicalModel
from canonical.envelope import Envelope, SourceRef, derive_idempotency_key
from canonical.errors import CanonicalError
from canonical.money import Money
from canonical.order import Order, OrderRef
from canonical.payment import PaymentEvent, PaymentEventKind
from canonical.returns import ReturnLine, ReturnRequest, ReturnStatus
from connectors.errors import TranslationError
from connectors.spec import TranslationContext, Translator

__all__ = [
    "Fields",
    "build",
    "derived_message_id",
    "envelope",
    "order_envelope",
    "order_event_type",
    "payment_envelope",
    "refund_return_envelope",
    "translate_each",
    "unwrap",
]

T = TypeVar("T")
_MISSING = object()


def derived_message_id(received_at: datetime, idempotency_key: str) -> uuid.UUID:
    """A UUIDv7 with ``received_at`` as its time and 74 bits taken from the idempotency key."""
    millis = int(received_at.timestamp() * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:10], "big")
    rand_a = digest >> 68 & 0xFFF
    rand_b = digest & ((1 << 62) - 1)
    value = millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def envelope(
    ctx: TranslationContext,
    connector: str,
    payload: CanonicalModel,
    *,
    event_type: str,
    source_ids: tuple[str | int, ...],
    occurred_at: datetime,
    correlation_id: str | None = None,
) -> Envelope:
    """Wrap ``payload``; the idempotency key comes from ``source_ids`` (the vendor's own ids)."""
    key = derive_idempotency_key(ctx.tenant, ctx.instance, event_type, *source_ids)
    return Envelope.wrap(
        payload,
        event_type=event_type,
        source=SourceRef(connector=connector, instance=ctx.instance),
        source_ids=source_ids,
        occurred_at=occurred_at,
        received_at=ctx.received_at,
        correlation_id=correlation_id,
        message_id=derived_message_id(ctx.received_at, key),
    )


def order_event_type(order: Order) -> str:
    """The canonical event an order snapshot stands for, from its state, never from the topic.

    Cancelled -> ``order.cancelled``; never updated since it was placed -> ``order.created``;
    otherwise ``order.updated``. A webhook, its redeliveries and a poll of one version agree.
    """
    if order.cancelled_at is not None:
        return "order.cancelled"
    if order.updated_at == order.placed_at:
        return "order.created"
    return "order.updated"


def order_envelope(
    ctx: TranslationContext, connector: str, order: Order, *, version: str
) -> Envelope:
    """An order snapshot keyed by ``("order", order id, version)``, at its ``updated_at``.

    ``version`` is the vendor's own version of the order (its update time as the connector
    normalises it), so that a webhook and a poll of the same version derive the same key.
    """
    return envelope(
        ctx,
        connector,
        order,
        event_type=order_event_type(order),
        source_ids=("order", order.external_id, version),
        occurred_at=order.updated_at,
        correlation_id=order.key,
    )


def payment_envelope(
    ctx: TranslationContext,
    connector: str,
    path: str,
    *,
    kind: PaymentEventKind,
    source_ids: tuple[str | int, ...],
    **fields: Any,
) -> Envelope:
    """A :class:`PaymentEvent` of ``kind`` (built from ``fields``, naming ``path`` when invalid),
    as a ``payment.<kind>`` envelope at the event's time, correlated with its order (else with
    the payment)."""
    event = build(PaymentEvent, path, tenant=ctx.tenant, kind=kind, **fields)
    return envelope(
        ctx,
        connector,
        event,
        event_type=f"payment.{kind.value}",
        source_ids=source_ids,
        occurred_at=event.occurred_at,
        correlation_id=event.order.key if event.order else event.payment_id,
    )


def refund_return_envelope(
    ctx: TranslationContext,
    connector: str,
    path: str,
    *,
    refund_id: str,
    order: OrderRef,
    lines: list[ReturnLine],
    requested_at: datetime,
    updated_at: datetime,
    location: str | None = None,
) -> Envelope:
    """The goods of a channel refund that lists lines: an authorised return ``refund-<id>``.

    Keyed by the refund id (a refund happens once), at the refund's time, correlated with the
    order; each line's ``restock`` says whether the units go back to stock.
    """
    rma = build(
        ReturnRequest,
        path,
        tenant=ctx.tenant,
        rma_id=f"refund-{refund_id}",
        order=order,
        status=ReturnStatus.AUTHORIZED,
        location=location,
        lines=lines,
        requested_at=requested_at,
        updated_at=updated_at,
    )
    return envelope(
        ctx,
        connector,
        rma,
        event_type="return.requested",
        source_ids=("refund", refund_id),
        occurred_at=requested_at,
        correlation_id=order.key,
    )


def translate_each(
    items: Iterable[tuple[str, Any]], translate: Translator, ctx: TranslationContext
) -> list[Envelope]:
    """Translate every ``(path, resource)`` of a page; a failure names ``path.field``."""
    envelopes: list[Envelope] = []
    for path, item in items:
        try:
            envelopes.extend(translate(item, ctx))
        except TranslationError as exc:
            raise TranslationError(exc.message, field=f"{path}.{exc.field}") from None
    return envelopes


def unwrap(payload: Any, key: str) -> Any:
    """The resource inside a vendor wrapper (``{"order": {...}}``), or the payload itself."""
    if isinstance(payload, dict) and set(payload) == {key} and isinstance(payload[key], dict):
        return payload[key]
    return payload


def build(model: Callable[..., T], path: str, **values: Any) -> T:
    """Construct a canonical model; a validation failure names the vendor object at ``path``."""
    try:
        return model(**values)
    except (ValidationError, CanonicalError, ValueError) as exc:
        detail = (
            "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(model)'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        raise TranslationError(
            f"does not make a valid canonical object: {detail}", field=path or "(payload)"
        ) from None


class Fields:
    """A read-only view of a vendor object that knows its path, for precise error messages."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: builtins.str = "") -> None:
        if not isinstance(data, Mapping):
            raise TranslationError(
                f"expected an object, got {type(data).__name__}", field=path or "(payload)"
            )
        self.data = data
        self.path = path

    def _name(self, key: builtins.str) -> builtins.str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: builtins.str, message: builtins.str) -> TranslationError:
        return TranslationError(message, field=self._name(key))

    def raw(self, key: builtins.str, default: Any = _MISSING) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise self.fail(key, "is missing" if value is _MISSING else "is null")
            return default
        return value

    def has(self, key: builtins.str) -> builtins.bool:
        return self.data.get(key) is not None

    def obj(self, key: builtins.str) -> Fields:
        return Fields(self.raw(key), self._name(key))

    def opt_obj(self, key: builtins.str) -> Fields | None:
        value = self.data.get(key)
        return None if value is None else Fields(value, self._name(key))

    def objs(self, key: builtins.str) -> Iterator[Fields]:
        items = self.raw(key, [])
        if not isinstance(items, list):
            raise self.fail(key, f"expected a list, got {type(items).__name__}")
        for index, item in enumerate(items):
            yield Fields(item, f"{self._name(key)}[{index}]")

    def str(self, key: builtins.str) -> builtins.str:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(key, f"expected a string, got {type(value).__name__}")
        return str(value)

    def opt_str(self, key: builtins.str) -> builtins.str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return self.str(key)

    def id(self, key: builtins.str) -> builtins.str:
        """A vendor id, exactly as sent: integers are never floated, so 2^53+ ids survive."""
        value = self.raw(key)
        if isinstance(value, (bool, float | Decimal)):
            raise self.fail(key, "an id must be an integer or a string, not a fractional number")
        if not isinstance(value, int | str) or value == "":
            raise self.fail(key, f"expected an id, got {type(value).__name__}")
        return str(value)

    def opt_id(self, key: builtins.str) -> builtins.str | None:
        return None if self.data.get(key) in (None, "") else self.id(key)

    def int(self, key: builtins.str, default: Any = _MISSING) -> builtins.int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(key, f"expected a whole number, got {type(value).__name__}")
        try:
            return int(value)
        except ValueError:
            raise self.fail(key, f"{value!r} is not a whole number") from None

    def bool(self, key: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def decimal(self, key: builtins.str) -> Decimal:
        value = self.raw(key)
        if isinstance(value, float):
            raise self.fail(key, "amounts must not arrive as binary floats")
        if isinstance(value, bool):
            raise self.fail(key, "expected an amount, got a boolean")
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"{value!r} is not a decimal amount") from None

    def money(self, key: builtins.str, currency: builtins.str) -> Money:
        """A decimal-string amount (Shopify, WooCommerce, Amazon) in ``currency``."""
        amount = self.decimal(key)
        try:
            return Money(amount=amount, currency=currency)
        except (ValidationError, CanonicalError, ValueError) as exc:
            raise self.fail(key, _short(exc)) from None

    def minor_units(self, key: builtins.str, currency: builtins.str) -> Money:
        """An integer count of minor units (Stripe's ``amount: 1999``)."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer count of minor units, got {value!r}")
        try:
            return Money.from_minor_units(value, currency)
        except (CanonicalError, ValueError) as exc:
            raise self.fail(key, _short(exc)) from None

    def currency(self, key: builtins.str) -> builtins.str:
        """An ISO 4217 code; vendors that send lower case (Stripe) are upper-cased."""
        value = self.str(key).upper()
        try:
            Money.zero(value)
        except (ValidationError, CanonicalError, ValueError) as exc:
            raise self.fail(key, _short(exc)) from None
        return value

    def time(self, key: builtins.str) -> datetime:
        """An ISO 8601 timestamp with an offset; a naive time is refused (which zone was it?)."""
        value = self.str(key)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(key, f"{value!r} is not an ISO 8601 timestamp") from None
        if parsed.tzinfo is None:
            raise self.fail(key, f"{value!r} has no time zone offset")
        return parsed

    def opt_time(self, key: builtins.str) -> datetime | None:
        return None if self.data.get(key) in (None, "") else self.time(key)

    def epoch(self, key: builtins.str) -> datetime:
        """A Unix timestamp in seconds (Stripe's ``created``), as UTC."""
        from datetime import UTC

        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected a Unix timestamp in seconds, got {value!r}")
        return datetime.fromtimestamp(value, UTC)


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(e["msg"] for e in exc.errors(include_input=False, include_url=False))
    return str(exc)
