"""Master data for the router's rules, read from the ledger and cached in memory.

Governance asks about every order line (is the SKU known, does the channel's variant id map to a
SKU, is the price right), so asking the database each time would cost a round trip per line. The
catalogue is loaded once and reloaded when it is older than ``max_age`` or when a lookup misses
(at most once per ``miss_reload_interval``, so a flood of unknown SKUs cannot hammer the database).
A SKU added with ``hub catalog import`` is therefore seen within seconds without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from canonical import Money, TrackingRequirement

__all__ = ["LedgerCatalog"]


@dataclass
class _Snapshot:
    skus: dict[tuple[str, str], TrackingRequirement] = field(default_factory=dict)
    external: dict[tuple[str, str, str], str] = field(default_factory=dict)
    ids_of: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    locations: set[tuple[str, str]] = field(default_factory=set)
    prices: dict[tuple[str, str, str], Money] = field(default_factory=dict)
    loaded_at: float = 0.0


class LedgerCatalog:
    """Implements :class:`router.governance.Catalog` over the ledger's master-data tables."""

    def __init__(
        self,
        query: Callable[[str], list[tuple[Any, ...]]],
        *,
        max_age: float = 30.0,
        miss_reload_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._query = query
        self._max_age = max_age
        self._miss_interval = miss_reload_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._snapshot = _Snapshot()
        self._last_miss_reload = -1e9
        self.reload()

    def reload(self) -> None:
        with self._reload_lock:  # one reload at a time: the connection is shared across threads
            self._reload()

    def _reload(self) -> None:
        snapshot = _Snapshot(loaded_at=self._clock())
        for tenant, sku, tracking in self._query("SELECT tenant, sku, tracking FROM skus"):
            snapshot.skus[(tenant, sku)] = TrackingRequirement(tracking)
        for tenant, channel, external_id, sku, kind in self._query(
            "SELECT tenant, channel, external_id, sku, id_kind FROM sku_external_ids"
        ):
            snapshot.external[(tenant, channel, external_id)] = sku
            snapshot.ids_of.setdefault((tenant, channel, sku), {})[kind] = external_id
        for tenant, location in self._query("SELECT tenant, location FROM locations"):
            snapshot.locations.add((tenant, location))
        for tenant, channel, sku, currency, amount in self._query(
            "SELECT tenant, channel, sku, currency, amount FROM catalog_prices"
        ):
            snapshot.prices[(tenant, channel, sku)] = Money(
                amount=Decimal(str(amount)), currency=currency
            )
        with self._lock:
            self._snapshot = snapshot

    def _fresh(self) -> _Snapshot:
        snapshot = self._snapshot
        if self._clock() - snapshot.loaded_at > self._max_age:
            self.reload()
            snapshot = self._snapshot
        return snapshot

    def _after_miss(self) -> _Snapshot | None:
        now = self._clock()
        if now - self._last_miss_reload < self._miss_interval:
            return None
        self._last_miss_reload = now
        self.reload()
        return self._snapshot

    def _lookup(self, get: Callable[[_Snapshot], Any]) -> Any:
        found = get(self._fresh())
        if found is None or found is False:
            again = self._after_miss()
            if again is not None:
                found = get(again)
        return found

    # -- router.governance.Catalog ----------------------------------------------------------------

    def sku_exists(self, tenant: str, sku: str) -> bool:
        return bool(self._lookup(lambda s: (tenant, sku) in s.skus))

    def resolve_sku(
        self, tenant: str, channel: str, *, product_id: str | None, variant_id: str | None
    ) -> str | None:
        def get(snapshot: _Snapshot) -> str | None:
            for external_id in (variant_id, product_id):
                if external_id is not None:
                    sku = snapshot.external.get((tenant, channel, external_id))
                    if sku is not None:
                        return sku
            return None

        result = self._lookup(get)
        return str(result) if result is not None else None

    def location_exists(self, tenant: str, location: str) -> bool:
        return bool(self._lookup(lambda s: (tenant, location) in s.locations))

    def list_price(self, tenant: str, channel: str, sku: str) -> Money | None:
        return self._fresh().prices.get((tenant, channel, sku))

    def external_ids(self, tenant: str, channel: str, sku: str) -> dict[str, str]:
        """How ``channel`` identifies ``sku`` (variant id, listing id, seller SKU...), by kind."""
        return dict(self._lookup(lambda s: s.ids_of.get((tenant, channel, sku))) or {})

    def tracking_requirement(self, tenant: str, sku: str) -> TrackingRequirement:
        found = self._fresh().skus.get((tenant, sku))
        return found if found is not None else TrackingRequirement.NONE
