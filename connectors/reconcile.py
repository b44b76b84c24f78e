"""Reconciliation: find what webhooks missed, through the same idempotency path.

Webhooks are not guaranteed (Shopify gives up after 8 tries in 4 hours), so every order connector
polls a time window and compares the channel with the ledger. :func:`reconcile` is that comparison,
shared by all order connectors: it translates each polled order with the *same* translation as the
webhook (so a drifted order's envelope derives the same idempotency key a delivered webhook would
have, and nothing is applied twice) and reports the drift: orders the ledger lacks, and orders it
holds in an older version. :class:`OrderChannel` is the base of order connectors that gives them
``reconcile`` from their ``iter_orders`` and the event that translates one polled order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from canonical.envelope import Envelope
from canonical.order import Order
from connectors.base import Connector
from connectors.pagination import TimeWindow
from connectors.polling import PollSpec
from connectors.spec import TranslationContext, Translator

__all__ = ["DriftReport", "OrderChannel", "reconcile"]


@dataclass(slots=True)
class DriftReport:
    """What a reconciliation poll found, and the envelopes that repair it."""

    window: TimeWindow
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)

    @property
    def drift(self) -> int:
        return len(self.missing) + len(self.stale)


def reconcile(
    orders: Iterable[Any],
    translate: Translator,
    ctx: TranslationContext,
    window: TimeWindow,
    ledger_version: Callable[[str], datetime | None],
) -> DriftReport:
    """Compare polled ``orders`` (raw vendor JSON) with ``ledger_version(order_key)``.

    ``ledger_version`` returns the ``updated_at`` the ledger holds for an order key, or None.
    """
    report = DriftReport(window=window)
    for raw in orders:
        report.checked += 1
        for env in translate(raw, ctx):
            order = env.payload
            if not isinstance(order, Order):
                continue
            held = ledger_version(order.key)
            if held is None:
                report.missing.append(order.key)
            elif held.astimezone(UTC) < order.updated_at.astimezone(UTC):
                report.stale.append(order.key)
            else:
                continue
            report.envelopes.append(env)
    return report


class OrderChannel(Connector):
    """Base of order connectors (storefronts, marketplaces): a window poll and its reconciliation.

    Subclasses implement :meth:`iter_orders` (every order updated in a window, as the vendor
    returns it, paging as the vendor pages) and name in :attr:`reconcile_event` the vendor event
    whose translation turns one polled order into envelopes, the one its webhooks use, so that a
    reconciled order derives the key a delivered webhook would have.
    """

    reconcile_event: ClassVar[str]

    def iter_orders(self, window: TimeWindow) -> Iterator[Any]:
        """Every order updated in ``window`` (raw vendor JSON), following the vendor's pages."""
        raise NotImplementedError(f"connector {self.name!r} does not poll orders")

    @classmethod
    def poll_specs(cls) -> dict[str, PollSpec]:
        return {
            **super().poll_specs(),
            "orders": PollSpec(
                "orders",
                cls.reconcile_event,
                windowed=True,
                description="orders updated in the window (what webhooks missed, or all of them "
                "where the channel pushes none)",
            ),
        }

    def poll(self, name: str, window: TimeWindow | None) -> Iterator[Any]:
        if name == "orders":
            if window is None:
                raise ValueError("the orders poll reads a time window")
            return self.iter_orders(window)
        return super().poll(name, window)

    def reconcile(
        self,
        window: TimeWindow,
        ctx: TranslationContext,
        ledger_version: Callable[[str], datetime | None],
    ) -> DriftReport:
        """Poll ``window`` and report orders the ledger lacks or holds older (webhooks missed)."""
        translate = self.events[self.reconcile_event].translate
        return reconcile(self.iter_orders(window), translate, ctx, window, ledger_version)
