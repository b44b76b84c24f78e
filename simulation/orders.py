"""A vendor-neutral description of one simulated order, which the vendor modules render.

The scenario decides *what* happens (who buys what, when, at what price); each vendor module
decides only *how* its vendor writes it down. Keeping the two apart is what lets one order be
told the same way by a storefront's webhook, a payment provider's event and a 3PL's shipment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

__all__ = ["DAY_START", "Buyer", "Line", "OrderSpec", "at_time", "iso_z", "money"]

#: The simulated day (fixed, so that payloads are identical for a seed on any date).
DAY_START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def at_time(seconds: float) -> datetime:
    """The wall time of a moment ``seconds`` into the simulated day, to the second."""
    return DAY_START + timedelta(seconds=int(seconds))


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal) -> str:
    """A decimal string with two places, as every storefront writes amounts."""
    return f"{amount.quantize(Decimal('0.01'))}"


@dataclass(frozen=True, slots=True)
class Buyer:
    first_name: str
    last_name: str
    email: str
    address1: str
    city: str
    state: str
    zip: str
    country: str = "US"


@dataclass(frozen=True, slots=True)
class Line:
    """One order line; ``sku`` may be one the catalogue does not know (a rule-breaking order)."""

    line_id: int
    sku: str
    title: str
    unit_price: Decimal
    quantity: int
    product_id: int
    variant_id: int

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """One order as the business sees it, before any vendor writes it down."""

    channel: str
    external_id: str
    number: int
    placed: float
    lines: tuple[Line, ...]
    buyer: Buyer
    shipping: Decimal

    @property
    def key(self) -> str:
        """The hub's order key: ``<channel>:<external id>``."""
        return f"{self.channel}:{self.external_id}"

    @property
    def items_total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.items_total + self.shipping

    @property
    def placed_at(self) -> datetime:
        return at_time(self.placed)
