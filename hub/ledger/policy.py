"""Ledger policies: plain pydantic models with safe defaults, passed to the ledger at construction.

The deployment config will load them from YAML later; until then they are built in Python.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChannelRule",
    "ChannelStockPolicy",
    "LedgerPolicy",
    "ReservationPolicy",
    "ReturnsPolicy",
    "SourcingPolicy",
]


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelRule(_Policy):
    """How much of the shared pool one channel may promise.

    ``protected`` units are held back from the channel (keep 10 off the marketplace);
    ``cap_percent`` caps the channel at a share of the pool (rounded down).
    """

    protected: int = Field(default=0, ge=0)
    cap_percent: Decimal | None = Field(default=None, ge=0, le=100)


class ChannelStockPolicy(_Policy):
    """Available-to-promise per channel: one shared pool, shaped per channel by a rule."""

    rules: dict[str, ChannelRule] = {}

    def rule(self, channel: str) -> ChannelRule:
        return self.rules.get(channel, ChannelRule())

    def available(self, channel: str, pool: int) -> int:
        """A channel's ATP from the pool (sum over locations of on-hand - allocated - safety)."""
        rule = self.rule(channel)
        available = max(0, pool - rule.protected)
        if rule.cap_percent is not None:
            cap = int(Decimal(max(pool, 0)) * rule.cap_percent / 100)
            available = min(available, cap)
        return available


class ReservationPolicy(_Policy):
    """When stock is reserved for an order and what happens when there is not enough.

    ``reserve_at``: ``capture`` reserves when the order arrives; ``payment`` waits for the order's
    payment (status authorized/paid or a payment event). Backorders are allowed for a SKU when its
    master data allows them and the channel is not in ``refuse_backorder_channels``. An order mixing
    stocked and special-order lines is ``split`` (stocked lines reserve, the others wait for
    supply) or ``hold`` (the whole order waits on hold).
    """

    reserve_at: Literal["capture", "payment"] = "capture"
    refuse_backorder_channels: frozenset[str] = frozenset()
    mixed_orders: Literal["split", "hold"] = "split"


class SourcingPolicy(_Policy):
    """How the location of an order line is chosen: candidates with enough stock, ranked by ship-to
    region match (when ``match_region``), then the preferred kind of node, then location priority
    (lower first), then location id."""

    match_region: bool = True
    prefer: Literal["own", "3pl", "none"] = "own"


class ReturnsPolicy(_Policy):
    """Refunds before the returned goods are inspected are refused unless allowed here."""

    allow_refund_before_inspection: bool = False
    default_location: str | None = Field(
        default=None, description="Where returns go when the RMA names no location."
    )


class LedgerPolicy(_Policy):
    """Every policy the ledger applies, in one object."""

    channels: ChannelStockPolicy = ChannelStockPolicy()
    reservation: ReservationPolicy = ReservationPolicy()
    sourcing: SourcingPolicy = SourcingPolicy()
    returns: ReturnsPolicy = ReturnsPolicy()
