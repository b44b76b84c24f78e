"""The flash sale's buyers, what each channel shows them, and the count of what went wrong.

Kept apart from the run so the accounting and the baseline can be checked on small hand-made
cases: a channel sells a unit whenever the level it shows is at least one and lowers that level
itself (as Shopify, WooCommerce and Amazon do on a sale); a stock push replaces the level
outright. Whatever a channel sells beyond the stock is oversold; a buyer turned away while units
of that SKU were still in stock is a unit left unsold while demand remained.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Buyer", "Outcome", "Shelves", "baseline", "buyers"]

#: each channel's share of buyers (the simulation's channel mix)
MIX = (("shopify_us", 0.52), ("woo_us", 0.38), ("amazon_us", 0.10))


@dataclass(frozen=True, order=True)
class Buyer:
    """One buyer: arrives ``at`` seconds into the sale, on ``channel``, for one unit of ``sku``."""

    at: float
    channel: str
    sku: str


def buyers(count: int, skus: Sequence[str], seconds: float, seed: int) -> list[Buyer]:
    """``count`` buyers arriving uniformly over ``seconds``, channels by :data:`MIX`; seeded."""
    rng = random.Random(seed)
    channels = [channel for channel, _ in MIX]
    weights = [share for _, share in MIX]
    return sorted(
        Buyer(rng.uniform(0, seconds), rng.choices(channels, weights)[0], rng.choice(skus))
        for _ in range(count)
    )


@dataclass
class Outcome:
    """Units sold by the channels and buyers turned away, per SKU, against the stock."""

    stock: dict[str, int]
    sold: Counter[str] = field(default_factory=Counter)
    turned_away: Counter[str] = field(default_factory=Counter)

    @property
    def oversold_units(self) -> int:
        """Units the channels sold beyond the stock (someone paid for a unit that does not exist)."""
        return sum(max(0, self.sold[sku] - units) for sku, units in self.stock.items())

    @property
    def unsold_units(self) -> int:
        """Units still in stock that a turned-away buyer would have bought."""
        return sum(
            min(max(0, units - self.sold[sku]), self.turned_away[sku])
            for sku, units in self.stock.items()
        )

    def as_json(self) -> dict[str, object]:
        return {
            "oversold_units": self.oversold_units,
            "unsold_units": self.unsold_units,
            "sold": dict(sorted(self.sold.items())),
            "turned_away": dict(sorted(self.turned_away.items())),
        }


class Shelves:
    """The level each channel shows for each SKU; safe to update from the pushes' thread."""

    def __init__(self, stock: dict[str, int], channels: Iterable[str]) -> None:
        self._levels = {(ch, sku): units for ch in channels for sku, units in stock.items()}
        self._lock = threading.Lock()

    def sell(self, channel: str, sku: str) -> bool:
        """A buyer tries to buy one unit: sold (and the channel lowers its level) or turned away."""
        with self._lock:
            if self._levels[(channel, sku)] < 1:
                return False
            self._levels[(channel, sku)] -= 1
            return True

    def set(self, channel: str, sku: str, level: int) -> None:
        """A stock push: the channel now shows ``level``."""
        with self._lock:
            if (channel, sku) in self._levels:
                self._levels[(channel, sku)] = level

    def level(self, channel: str, sku: str) -> int:
        with self._lock:
            return self._levels[(channel, sku)]


def baseline(
    crowd: Sequence[Buyer], stock: dict[str, int], *, interval: float, first_sync: float
) -> Outcome:
    """The batch practice: every ``interval`` seconds (the first at ``first_sync`` into the sale)
    a job sets every channel to the central stock less everything sold so far; between syncs each
    channel sells against its last synced level. Before the sale every channel shows the stock.

    Generous to the baseline: the job is assumed to know every sale up to the moment it runs.
    """
    channels = {channel for channel, _ in MIX} | {b.channel for b in crowd}
    shelves = Shelves(stock, channels)
    outcome = Outcome(dict(stock))
    next_sync = first_sync
    for buyer in sorted(crowd):
        while next_sync <= buyer.at:
            for channel in channels:
                for sku, units in stock.items():
                    shelves.set(channel, sku, max(0, units - outcome.sold[sku]))
            next_sync += interval
        if shelves.sell(buyer.channel, buyer.sku):
            outcome.sold[buyer.sku] += 1
        else:
            outcome.turned_away[buyer.sku] += 1
    return outcome
