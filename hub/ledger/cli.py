"""The ledger's commands: ``hub ledger migrate|positions``, ``hub orders show``,
``hub catalog import``. Every command takes ``--ledger URL`` (else ``$HUB_LEDGER_URL``, else the
embedded default file) and prints JSON with ``--json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.errors import HubError
from hub.ledger.store import Ledger
from hub.ledger.url import resolve_ledger_url

__all__ = ["catalog_app", "ledger_app", "orders_app"]

ledger_app = typer.Typer(
    help="The ERP ledger: schema, positions and availability.", no_args_is_help=True
)
orders_app = typer.Typer(help="Orders in the ledger.", no_args_is_help=True)
catalog_app = typer.Typer(
    help="Master data: SKUs, channel ids and locations.", no_args_is_help=True
)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

LedgerUrl = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        help="A SQLite file path, sqlite:///PATH or a postgresql:// URL "
        "(default: $HUB_LEDGER_URL, then the embedded file).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open(url: str | None) -> Ledger:
    try:
        return Ledger(resolve_ledger_url(url))
    except HubError as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, sort_keys=True) + "\n")


@ledger_app.command("migrate")
def migrate(ledger: LedgerUrl = None, as_json: AsJson = False) -> None:
    """Apply the pending schema migrations (versioned SQL files shipped with the hub)."""
    url = resolve_ledger_url(ledger)
    try:
        applied = Ledger.migrate(url)
    except HubError as exc:
        errors.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        _dump({"ledger": url, "applied": applied})
    elif applied:
        for name in applied:
            console.print(f"applied {name}")
    else:
        console.print("the ledger schema is up to date")


@ledger_app.command("positions")
def positions(
    sku: Annotated[str | None, typer.Option("--sku", help="Only this SKU.")] = None,
    location: Annotated[str | None, typer.Option("--location", help="Only this location.")] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only this channel's ATP.")
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Stock positions per SKU and location, and available-to-promise per channel."""
    with _open(ledger) as opened:
        rows = opened.positions(tenant, sku=sku, location=location)
        atp = opened.availability(tenant, sku=sku, channel=channel)
    if as_json:
        _dump(
            {
                "positions": [
                    {**p.model_dump(mode="json"), "available_to_promise": p.available_to_promise}
                    for p in rows
                ],
                "availability": [a.model_dump(mode="json", exclude={"type"}) for a in atp],
            }
        )
        return
    table = Table(
        "tenant",
        "sku",
        "location",
        "on hand",
        "allocated",
        "in transit",
        "returns",
        "damaged",
        "safety",
        "ATP",
    )
    for p in rows:
        table.add_row(
            p.tenant,
            p.sku,
            p.location,
            *(
                str(v)
                for v in (
                    p.on_hand,
                    p.allocated,
                    p.in_transit,
                    p.returns_pending,
                    p.damaged,
                    p.safety_stock,
                    p.available_to_promise,
                )
            ),
        )
    console.print(table)
    channels = Table(
        "tenant", "sku", "channel", "available", title="Available to promise per channel"
    )
    for a in atp:
        channels.add_row(a.tenant, a.sku, a.channel, str(a.available))
    console.print(channels)


@orders_app.command("show")
def show(
    order_id: Annotated[
        str, typer.Argument(metavar="ID", help="The order key, channel:external_id.")
    ],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="The tenant, if the key is in several.")
    ] = None,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """An order's state, lines, sourcing decisions, money and timeline."""
    with _open(ledger) as opened:
        try:
            view = opened.order(order_id, tenant)
        except HubError as exc:
            errors.print(str(exc), markup=False, highlight=False)
            raise typer.Exit(1) from None
    if view is None:
        errors.print(
            f"order {order_id!r} is not in the ledger (keys look like channel:external_id)"
        )
        raise typer.Exit(1)
    if as_json:
        _dump(view)
        return
    console.print(f"[bold]{view['order_key']}[/bold] ({view['tenant']}): {view['state']}")
    console.print(
        f"total {view['total_minor']} minor units {view['currency']}; captured {view['captured_minor']}, "
        f"refunded {view['refunded_minor']}; invoiced {view['invoiced_at'] or 'no'}"
    )
    lines = Table("line", "sku", "qty", "location", "reserved", "shipped", "returned", "status")
    for line in view["lines"]:
        lines.add_row(
            *(
                str(line[k])
                for k in (
                    "line_id",
                    "sku",
                    "quantity",
                    "location",
                    "reserved",
                    "shipped",
                    "returned",
                    "status",
                )
            )
        )
    console.print(lines)
    timeline = Table("at", "event", "state", "detail", title="Timeline")
    for entry in view["timeline"]:
        timeline.add_row(entry["at"], entry["event"], entry["state"], entry["detail"])
    console.print(timeline)


@orders_app.command("reconcile")
def reconcile(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant to check.")],
    days: Annotated[
        int, typer.Option("--days", help="Captured but not shipped after this many days.")
    ] = 3,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Order-to-cash exceptions: shipped not invoiced, captured not shipped, refunds without a
    received return. Exit 1 when there is any."""
    with _open(ledger) as opened:
        report = opened.reconciliation(tenant, capture_days=days)
    if as_json:
        _dump(report)
    else:
        for name, keys in report.items():
            console.print(f"{name.replace('_', ' ')}: {', '.join(keys) or 'none'}")
    if any(report.values()):
        raise typer.Exit(1)


@catalog_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV file. SKUs: tenant,sku[,gtin,tracking,backorder_allowed,title,channel,"
            "product_id,variant_id,listing_id,seller_sku]. Locations: tenant,location[,kind,region,"
            "priority]. See docs/ledger.md."
        ),
    ],
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Import master data from CSV: SKUs with their channel ids, or locations."""
    from hub.ledger.catalog import import_catalog

    with _open(ledger) as opened:
        try:
            report = import_catalog(opened, file)
        except (HubError, OSError) as exc:
            errors.print(str(exc), markup=False, highlight=False)
            raise typer.Exit(1) from None
    if as_json:
        _dump(
            {
                "skus": report.skus,
                "external_ids": report.external_ids,
                "locations": report.locations,
            }
        )
    else:
        console.print(
            f"imported {report.skus} SKUs, {report.external_ids} channel ids, {report.locations} locations"
        )
