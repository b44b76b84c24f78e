"""``hub procurement import FILE`` and ``hub replenish suggest``: like the ledger's commands,
they take ``--ledger URL`` (else ``$HUB_LEDGER_URL``, else the embedded file) and ``--json``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from hub.errors import HubError
from hub.ledger.cli import AsJson, LedgerUrl, _dump, _open
from hub.replenishment.csv_import import COLUMNS, import_procurement
from hub.replenishment.policy import ReplenishmentPolicy
from hub.replenishment.report import report_json
from hub.replenishment.suggest import evaluate

__all__ = ["procurement_app", "replenish_app"]

procurement_app = typer.Typer(
    help="Procurement records: purchase orders, ship notices, receipts.", no_args_is_help=True
)
replenish_app = typer.Typer(
    help="Replenishment: reorder points and suggested orders.", no_args_is_help=True
)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@procurement_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help=f"A CSV file with the header {','.join(COLUMNS)}; see docs/replenishment.md."
        ),
    ],
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Apply purchase orders, ship notices and receipts from CSV through the ledger (importing the
    same file again changes nothing). Exit 1 if the file is wrong or the ledger refused a document."""
    with _open(ledger) as opened:
        try:
            report = import_procurement(opened, file)
        except (HubError, OSError) as exc:
            errors.print(str(exc), markup=False, highlight=False)
            raise typer.Exit(1) from None
    if as_json:
        _dump({"applied": report.applied, "duplicate": report.duplicate, "refused": report.refused})
    else:
        console.print(f"applied {report.applied} documents, {report.duplicate} already imported")
        for problem in report.refused:
            errors.print(problem, markup=False, highlight=False)
    if report.refused:
        raise typer.Exit(1)


def _as_of(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        errors.print(f"--as-of {text!r} is not an ISO 8601 date or date-time")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@replenish_app.command("suggest")
def suggest(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate as of this time (default: now).")
    ] = None,
    service_level: Annotated[
        float, typer.Option("--service-level", help="Cycle service level, e.g. 0.95.")
    ] = 0.95,
    review_days: Annotated[
        float, typer.Option("--review-days", help="Days between reviews (order covers them).")
    ] = 7,
    history_days: Annotated[
        int, typer.Option("--history-days", help="Days of demand history read.")
    ] = 56,
    alpha: Annotated[float, typer.Option("--alpha", help="EWMA smoothing weight.")] = 0.2,
    lead_time_days: Annotated[
        float | None,
        typer.Option("--lead-time-days", help="Lead time for suppliers with no receipt yet."),
    ] = None,
    order_cost: Annotated[
        float | None, typer.Option("--order-cost", help="Cost per order (EOQ).")
    ] = None,
    holding_cost: Annotated[
        float | None, typer.Option("--holding-cost", help="Cost per unit per year (EOQ).")
    ] = None,
    ledger: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """SKUs at or below their reorder point with the quantity to order, the days of cover left
    and the customer promises at risk from known inbound delays."""
    try:
        policy = ReplenishmentPolicy(
            alpha=alpha,
            history_days=history_days,
            service_level=service_level,
            review_period_days=review_days,
            default_lead_time_days=lead_time_days,
            order_cost=order_cost,
            holding_cost=holding_cost,
        )
    except ValidationError as exc:
        errors.print(f"invalid option: {exc.errors()[0]['msg']}", markup=False)
        raise typer.Exit(2) from None
    with _open(ledger) as opened:
        data = report_json(evaluate(opened, policy, _as_of(as_of), tenant))
    if as_json:
        _dump(data)
        return
    _print(data)


def _print(data: dict[str, Any]) -> None:
    table = Table(
        "tenant", "sku", "location", "position", "ROP", "order", "cover (days)", "at risk",
        title=f"Suggested orders as of {data['as_of']}",
    )  # fmt: skip
    for item in data["suggestions"]:
        cover = item["days_of_cover"]
        table.add_row(
            item["tenant"],
            item["sku"],
            item["location"],
            str(item["inventory_position"]),
            f"{item['reorder_point']:.1f}",
            str(item["quantity"]),
            "-" if cover is None else f"{cover:.1f}",
            ", ".join(line["order"] for line in item["promises_at_risk"]) or "-",
        )
    console.print(table)
    suppliers = Table(
        "tenant", "supplier", "placed", "received", "on time", "in full", "lead time (days)",
        title="Supplier performance",
    )  # fmt: skip
    for perf in data["suppliers"]:
        lead = perf["lead_time_days"]
        suppliers.add_row(
            perf["tenant"],
            perf["supplier"],
            str(perf["placed"]),
            str(perf["received"]),
            _percent(perf["on_time_rate"]),
            _percent(perf["in_full_rate"]),
            "-"
            if lead is None
            else f"{lead['mean']:.1f} ± {lead['deviation']:.1f} (n={lead['samples']})",
        )
    console.print(suppliers)
    for item in data["no_suggestion"]:
        console.print(f"no suggestion for {item['sku']} at {item['location']}: {item['reason']}")
    for delay in data["inbound_delays"]:
        orders = ", ".join(line["order"] for line in delay["at_risk"]) or "no open order"
        console.print(
            f"inbound delay ({delay['kind']}): {delay['po_number']} from {delay['supplier']}, "
            f"{delay['outstanding']} x {delay['sku']} to {delay['location']}; at risk: {orders}"
        )


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"
