"""Master data from CSV: ``hub catalog import FILE``.

Two shapes, told apart by the header:

* SKUs (a ``sku`` column and no ``location`` column): ``tenant, sku`` required; optional ``gtin``,
  ``tracking`` (none|lot|serial), ``backorder_allowed`` (true/false), ``title``, and a channel's ids
  for the SKU: ``channel`` with any of ``product_id``, ``variant_id``, ``inventory_item_id``,
  ``listing_id``, ``seller_sku``. A row with a ``channel`` also registers that channel.
* Locations (a ``location`` column): ``tenant, location`` required; optional ``kind``
  (warehouse|3pl|store|supplier), ``region``, ``priority`` (lower is preferred).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from canonical.identifiers import ChannelId, Gtin, LocationId, LocationKind, Sku, TenantId
from hub.errors import ConfigurationError
from hub.ledger.store import Ledger

__all__ = ["CatalogReport", "import_catalog"]

_ID_COLUMNS = ("variant_id", "listing_id", "seller_sku", "product_id", "inventory_item_id")
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"", "0", "false", "no", "n"}
_CHECKS = {
    "tenant": TypeAdapter(TenantId),
    "sku": TypeAdapter(Sku),
    "channel": TypeAdapter(ChannelId),
    "location": TypeAdapter(LocationId),
    "gtin": TypeAdapter(Gtin),
}


@dataclass(frozen=True, slots=True)
class CatalogReport:
    skus: int = 0
    external_ids: int = 0
    locations: int = 0


def _check(column: str, value: str, where: str) -> str:
    try:
        _CHECKS[column].validate_python(value)
    except ValidationError as exc:
        raise ConfigurationError(f"{where}: {column} {value!r}: {exc.errors()[0]['msg']}") from None
    return value


def import_catalog(ledger: Ledger, path: Path) -> CatalogReport:
    """Load SKUs (and channel ids) or locations from a CSV file; see the module docstring.

    Every row is validated before anything is written, so a bad file changes nothing.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ConfigurationError(f"{path}: no rows (expected a header and at least one row)")
    columns = set(rows[0])
    if "location" in columns:
        return _import_locations(ledger, path, rows)
    if not {"tenant", "sku"} <= columns:
        raise ConfigurationError(
            f"{path}: a catalog CSV needs the columns tenant and sku (or tenant and location)"
        )
    planned = []
    for number, row in enumerate(rows, start=2):
        where = f"{path}:{number}"
        tenant = _check("tenant", row["tenant"].strip(), where)
        sku = _check("sku", row["sku"].strip(), where)
        gtin = (row.get("gtin") or "").strip() or None
        if gtin:
            _check("gtin", gtin, where)
        tracking = (row.get("tracking") or "none").strip() or "none"
        if tracking not in ("none", "lot", "serial"):
            raise ConfigurationError(
                f"{where}: tracking must be none, lot or serial, not {tracking!r}"
            )
        flag = (row.get("backorder_allowed") or "").strip().lower()
        if flag not in _TRUE | _FALSE:
            raise ConfigurationError(
                f"{where}: backorder_allowed must be true or false, not {flag!r}"
            )
        channel = (row.get("channel") or "").strip() or None
        ids = {c: (row.get(c) or "").strip() for c in _ID_COLUMNS if (row.get(c) or "").strip()}
        if channel:
            _check("channel", channel, where)
        elif ids:
            raise ConfigurationError(
                f"{where}: channel ids ({', '.join(ids)}) need a channel column"
            )
        planned.append(
            (tenant, sku, gtin, tracking, flag in _TRUE, row.get("title") or None, channel, ids)
        )
    external = 0
    for tenant, sku, gtin, tracking, backorder, title, channel, ids in planned:
        ledger.upsert_sku(
            tenant, sku, gtin=gtin, tracking=tracking, backorder_allowed=backorder, title=title
        )
        if channel:
            ledger.upsert_channel(tenant, channel)
            for kind, value in ids.items():
                ledger.map_external_id(tenant, channel, value, sku, id_kind=kind)
                external += 1
    return CatalogReport(skus=len(planned), external_ids=external)


def _import_locations(ledger: Ledger, path: Path, rows: list[dict[str, str]]) -> CatalogReport:
    planned = []
    for number, row in enumerate(rows, start=2):
        where = f"{path}:{number}"
        tenant = _check("tenant", (row.get("tenant") or "").strip(), where)
        location = _check("location", row["location"].strip(), where)
        kind = (row.get("kind") or "warehouse").strip() or "warehouse"
        if kind not in {k.value for k in LocationKind}:
            raise ConfigurationError(
                f"{where}: kind must be one of warehouse, 3pl, store, supplier"
            )
        priority_text = (row.get("priority") or "100").strip() or "100"
        if not priority_text.isdigit():
            raise ConfigurationError(
                f"{where}: priority must be a whole number, not {priority_text!r}"
            )
        planned.append(
            (tenant, location, kind, (row.get("region") or "").strip() or None, int(priority_text))
        )
    for tenant, location, kind, region, priority in planned:
        ledger.upsert_location(tenant, location, kind=kind, region=region, priority=priority)
    return CatalogReport(locations=len(planned))
