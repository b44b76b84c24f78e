"""``hub fulfilment exceptions|resolve|order`` and ``hub lots trace``: reading fulfilment from the
ledger (hub.fulfilment_report). Like the ledger's commands they take ``--ledger URL`` (else
``$HUB_LEDGER_URL``, else the embedded file) and ``--json``; exit 1 when the thing asked about does
not exist or cannot be done (the message says why)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.errors import HubError
from hub.fulfilment_report import (
    DOCUMENT_KINDS,
    ITEM_KINDS,
    RETURN_KINDS,
    FulfilmentError,
    FulfilmentReports,
)
from hub.ledger.cli import AsJson, LedgerUrl, _dump, _open
from hub.ledger.url import resolve_ledger_url
from hub.reports import Reports

__all__ = ["fulfilment_app", "lots_app"]

fulfilment_app = typer.Typer(
    help="Fulfilment: shipment reconciliation exceptions and perfect-order status.",
    no_args_is_help=True,
)
lots_app = typer.Typer(help="Lot control: where a lot went.", no_args_is_help=True)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

Tenant = Annotated[
    str | None,
    typer.Option("--tenant", help="The tenant (default: every tenant, or the only one it fits)."),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(message, markup=False, highlight=False)
    return typer.Exit(code)


@contextmanager
def _fulfilment(ledger: str | None) -> Iterator[FulfilmentReports]:
    url = resolve_ledger_url(ledger)
    with _open(url):  # a schema that is behind is refused here with its own message
        pass
    try:
        reports = Reports(url)
    except HubError as exc:
        raise _fail(str(exc)) from None
    try:
        yield FulfilmentReports(reports)
    finally:
        reports.close()


def _tenants(fulfilment: FulfilmentReports, table: str, column: str, value: Any) -> list[str]:
    rows = fulfilment._query(
        f"SELECT DISTINCT tenant FROM {table} WHERE {column} = ? ORDER BY tenant",  # noqa: S608 - constants
        (value,),
    )
    return [str(row[0]) for row in rows]


@fulfilment_app.command("exceptions")
def exceptions(
    tenant: Tenant = None,
    status: Annotated[
        str, typer.Option("--status", help="open, resolved or all.", show_default=True)
    ] = "open",
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help=f"Only this kind: {', '.join((*ITEM_KINDS, *DOCUMENT_KINDS, *RETURN_KINDS))}.",
        ),
    ] = None,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Shipment reconciliation exceptions, oldest first (open ones unless --status says)."""
    if status not in ("open", "resolved", "all"):
        raise _fail(f"--status must be open, resolved or all, not {status!r}", 2)
    with _fulfilment(ledger) as fulfilment:
        tenants = (
            [tenant]
            if tenant
            else [
                str(row[0])
                for row in fulfilment._query(
                    "SELECT DISTINCT tenant FROM fulfilment_exceptions ORDER BY tenant"
                )
            ]
        )
        rows = [
            {"tenant": name, **row}
            for name in tenants
            for row in fulfilment.fulfilment_exceptions(name, status, kind)
        ]
    if as_json:
        _dump(rows)
        return
    several = len({row["tenant"] for row in rows}) > 1
    table = Table(title=f"Fulfilment exceptions ({status})")
    for name in (
        "id", *(["tenant"] if several else []), "opened", "kind", "order", "shipment / return"
    ):  # fmt: skip
        table.add_column(name, no_wrap=True)
    table.add_column("status")
    table.add_column("detail")
    for row in rows:
        table.add_row(
            str(row["id"]),
            *([row["tenant"]] if several else []),
            str(row["opened_at"])[:16],
            row["kind"],
            row["order_key"],
            _source(row),
            row["status"]
            + (f" by {row['actor']}: {row['resolution']}" if row["status"] == "resolved" else ""),
            row["detail"],
        )
    console.print(table)
    if not rows:
        console.print("no fulfilment exceptions match")


def _source(row: dict[str, Any]) -> str:
    """What an exception is about: its shipment, else its return (RMA), else nothing."""
    if row["shipment_id"]:
        return str(row["shipment_id"])
    return f"rma {row['rma_id']}" if row.get("rma_id") else "-"


@fulfilment_app.command("resolve")
def resolve(
    exception_id: Annotated[int, typer.Argument(metavar="ID", help="The exception's id.")],
    note: Annotated[str, typer.Option("--note", help="What was done about it (recorded).")],
    tenant: Tenant = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="Who resolves it (default: cli:<your user name>)."),
    ] = None,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Resolve an open fulfilment exception with a note. Exit 1 for an unknown id or one already
    resolved."""
    with _fulfilment(ledger) as fulfilment:
        owners = _tenants(fulfilment, "fulfilment_exceptions", "id", exception_id)
        if tenant is None and len(owners) > 1:  # cannot happen with one id sequence; be explicit
            raise _fail(f"exception {exception_id} exists in {', '.join(owners)}: pass --tenant")
        target = tenant or (owners[0] if owners else None)
        if target is None:
            raise _fail(f"no fulfilment exception {exception_id}")
        try:
            row = fulfilment.resolve_exception(
                target, exception_id, note, actor or f"cli:{getpass.getuser()}"
            )
        except FulfilmentError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        _dump({"tenant": target, **row})
        return
    console.print(
        f"fulfilment exception {row['id']} ({row['kind']}, order {row['order_key']}) resolved "
        f"by {row['actor']}: {row['resolution']}",
        markup=False,
        highlight=False,
    )


def _mark(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "not yet"}[value]


@fulfilment_app.command("order")
def order(
    order_key: Annotated[str, typer.Argument(metavar="ORDER_KEY", help="e.g. shopify_us:1001")],
    tenant: Tenant = None,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """One order's perfect-order status: complete, on time, undamaged, accurate, right documents,
    and the reasons it is not perfect, with its requests, shipments and exceptions."""
    with _fulfilment(ledger) as fulfilment:
        owners = [tenant] if tenant else _tenants(fulfilment, "orders", "order_key", order_key)
        if len(owners) > 1:
            raise _fail(f"order {order_key} exists in {', '.join(owners)}: pass --tenant")
        status = fulfilment.perfect_order(owners[0], order_key) if owners else None
    if status is None:
        raise _fail(f"no order {order_key}" + (f" for {tenant}" if tenant else ""))
    if as_json:
        _dump(status)
        return
    verdict = "PERFECT" if status["perfect"] else "NOT PERFECT"
    console.print(
        f"order {order_key} ({status['tenant']}, {status['state']}): {verdict}",
        markup=False,
        highlight=False,
    )
    components = status["components"]
    console.print(
        "  ".join(
            f"{name.replace('_', ' ')}: {_mark(components[name])}"
            for name in ("complete", "on_time", "undamaged", "accurate", "documents")
        ),
        markup=False,
        highlight=False,
    )
    for reason in status["reasons"]:
        console.print(f"- {reason}", markup=False, highlight=False)
    if status["held_for_review"] or status["on_hold"]:
        console.print("(held for review or on hold: the perfect-order rate leaves it out)")
    _print_requests(status["requests"])
    shipments = Table("shipment", "location", "shipped", "tracking", "lines", title="Shipments")
    for shipment in status["shipments"]:
        shipments.add_row(
            shipment["shipment_id"],
            shipment["location"],
            str(shipment["shipped_at"])[:19],
            ", ".join(shipment["tracking"]) or "NONE",
            ", ".join(
                f"{line['quantity']} x {line['sku']}"
                + (f" (line {line['line_id']})" if line["line_id"] else " (no order line)")
                for line in shipment["lines"]
            ),
        )
    console.print(shipments)
    if status["exceptions"]:
        found = Table(title="Exceptions")
        for name in ("id", "kind", "shipment / return", "status"):
            found.add_column(name, no_wrap=True)  # the kind is what an operator filters on
        found.add_column("detail")
        for row in status["exceptions"]:
            found.add_row(str(row["id"]), row["kind"], _source(row), row["status"], row["detail"])
        console.print(found)


def _when(value: Any) -> str:
    """A stored moment to the minute, readable: ``2026-03-02 15:00``; ``-`` when empty."""
    return str(value)[:16].replace("T", " ") if value else "-"


def _print_requests(requests: list[dict[str, Any]]) -> None:
    """The order's fulfilment requests, one block each rather than a table: a request id is up
    to 255 characters and the node's reference is what support looks up, so neither is cut to
    fit 80 columns; every other line of a block stays well inside them."""
    console.print("Fulfilment requests" if requests else "Fulfilment requests: none")
    for request in requests:
        reference = request.get("node_reference")
        console.print(f"  {request['request_id']}", markup=False, highlight=False)
        for text in (
            f"    {request['status']} at {request['location']}, released "
            f"{_when(request['requested_at'])}",
            f"    ship by {_when(request['ship_by'])}, commit by {_when(request['commit_by'])}",
            "    node reference: "
            + (
                f"{reference} ({_when(request.get('node_reference_at'))})"
                if reference
                else "not recorded"
            ),
        ):
            console.print(text, markup=False, highlight=False)
        for line in request["lines"]:
            console.print(
                f"    line {line['line_id']}: {line['shipped']}/{line['quantity']} {line['sku']}"
                + (f" lot {line['lot']}" if line["lot"] else ""),
                markup=False,
                highlight=False,
            )


@lots_app.command("trace")
def trace(
    lot: Annotated[str, typer.Argument(metavar="LOT", help="The lot number.")],
    sku: Annotated[str | None, typer.Option("--sku", help="Only this SKU's lot.")] = None,
    tenant: Tenant = None,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Forward trace of a lot: where it is now, how it came in, and every order and shipment that
    received it. Exit 1 when the ledger knows nothing of the lot."""
    with _fulfilment(ledger) as fulfilment:
        if tenant:
            tenants = [tenant]
        else:
            tenants = sorted(
                set(_tenants(fulfilment, "lot_stock", "lot", lot))
                | set(_tenants(fulfilment, "lot_movements", "lot", lot))
            )
        traces = [fulfilment.lot_trace(name, lot, sku) for name in tenants]
    traces = [item for item in traces if item["found"]]
    if not traces:
        raise _fail(f"no lot {lot}" + (f" of {sku}" if sku else "") + " in the ledger")
    if as_json:
        _dump({"lot": lot, "sku": sku, "tenants": traces})
        return
    for item in traces:
        _print_trace(item)


def _print_trace(item: dict[str, Any]) -> None:
    totals = item["totals"]
    console.print(
        f"lot {item['lot']} ({item['tenant']}): {totals['received']} in, {totals['shipped']} "
        f"shipped to {totals['orders']} orders, {totals['on_hand']} on hand",
        markup=False,
        highlight=False,
    )
    stock = Table("sku", "location", "on hand", "committed", "expires", title="Where it is now")
    for row in item["stock"]:
        stock.add_row(
            row["sku"],
            row["location"],
            str(row["on_hand"]),
            str(row["committed"]),
            str(row["expires_at"] or "-")[:10] + (" EXPIRED" if row["expired"] else ""),
        )
    console.print(stock)
    received = Table("when", "sku", "location", "kind", "quantity", "reference", title="In")
    for row in item["received"]:
        received.add_row(
            str(row["occurred_at"])[:19],
            row["sku"],
            row["location"],
            row["kind"],
            str(row["quantity"]),
            row["reference"] or "-",
        )
    console.print(received)
    shipped = Table(title="Out to orders")
    for name in ("shipped", "order", "shipment", "sku", "from", "units", "tracking", "serials"):
        shipped.add_column(name, no_wrap=name != "serials")
    for row in item["shipped"]:
        shipped.add_row(
            str(row["shipped_at"])[:16],
            str(row["order_key"]),
            str(row["shipment_id"]),
            str(row["sku"]),
            str(row["location"]),
            "?" if row["quantity"] is None else str(row["quantity"]),
            "\n".join(row["tracking"]) or "-",
            " ".join(row["serials"]) or "-",
        )
    console.print(shipped)


@lots_app.command("expire")
def expire(ledger: LedgerUrl = None, as_json: AsJson = False) -> None:
    """Recompute the channels' available-to-promise of SKUs whose lots have expired, so their
    units stop being promised now (the relay of `hub run` and `hub worker` does this every few
    minutes; this is the same sweep, for cron or an impatient operator)."""
    from hub.ledger.lots import refresh_expired

    with _open(ledger) as opened:
        pairs = refresh_expired(opened)
    if as_json:
        _dump({"skus": [{"tenant": tenant, "sku": sku} for tenant, sku in pairs]})
        return
    console.print(f"availability recomputed for {len(pairs)} SKU(s) with expired lots")
    for tenant, sku in pairs:
        console.print(f"  {tenant} {sku}", markup=False, highlight=False)
