"""``hub demo``: a whole simulated day of an ecommerce business through the real hub, in one command.

No servers, accounts or configuration: the demo starts the vendor simulation on localhost, writes a
deployment file that points unmodified connectors at it, loads the catalogue and the starting stock
into the embedded ledger, starts the embedded hub (``hub.serve.serve_embedded``, as ``hub run``
does), and lets the vendors do their day: webhooks through the real ingress (signed, duplicated,
late, forged), Amazon orders polled page by page, stock pushed back to every channel by the outbox
relay. It waits until everything is drained and prints a summary read back from the ledger
(:mod:`hub.demo_run` runs the day, :mod:`hub.demo_summary` reads the figures back).

The ledger is the embedded default file (``$HUB_HOME/ledger.sqlite3``), so ``hub ledger
positions``, ``hub orders show``, ``hub trace``, ``hub dlq list`` and ``hub review list`` explore
the run without being told where it is. A ledger that another run of the hub (not the demo) left
there is never touched: the demo refuses and says how to point it elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["demo"]

console = Console(stderr=True, soft_wrap=True)


def _print_summary(summary: dict[str, Any], folder: Path) -> None:
    out = Console(soft_wrap=True)
    webhooks = summary["webhooks"]
    latency = summary["latency_ms"]
    table = Table(title=f"hub demo summary (seed {summary['seed']}, {summary['seconds']} s)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("orders", summary["orders_total"]),
        ("orders by state", ", ".join(f"{k} {v}" for k, v in summary["orders_by_state"].items())),
        ("oversold units", summary["oversold_units"]),
        ("reviews / exceptions", f"{summary['reviews']} / {summary['exceptions']}"),
        ("dead letters", summary["dead_letters"]),
        (
            "shipment mismatches (open)",
            ", ".join(f"{k} {v}" for k, v in summary["fulfilment_exceptions"].items()) or "none",
        ),
        ("clean / perfect orders, fill rate", " / ".join(
            _percent(summary["kpis"][k])
            for k in ("clean_order_rate", "perfect_order_rate", "fill_rate"))),
        ("allocation accuracy / on-time release", " / ".join(
            _percent(summary["kpis"][k]) for k in ("allocation_accuracy", "on_time_release_rate"))),
        ("webhooks accepted / deliveries", f"{webhooks['accepted']} / {webhooks['deliveries']}"),
        ("duplicates delivered (applied once)", webhooks["duplicates_delivered"]),
        ("late / early deliveries", f"{webhooks['late_delivered']} / {webhooks['early_delivered']}"),
        ("forged refused / sent", f"{webhooks['forged_refused']} / {webhooks['forged_sent']}"),
        ("amazon orders polled", summary["amazon_orders_polled"]),
        ("orders released to ShipBob", summary["released_to_3pl"]),
        ("webhook -> ledger p50 / p99 ms",
         f"{latency['webhook_to_ledger_p50']} / {latency['webhook_to_ledger_p99']}"),
        ("webhook -> channel push p50 / p99 ms",
         f"{latency['webhook_to_channel_push_p50']} / {latency['webhook_to_channel_push_p99']}"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    out.print(table)
    flash = Table(title="flash sale: stock, sold, available to promise per channel (last push)")
    for column in ("sku", "stock", "demand", "sold", "shopify_us", "woo_us", "amazon_us"):
        flash.add_column(column, justify="right")
    for sku, row in summary["flash_sale"].items():
        cells = [f"{row['available_to_promise'][ch]} ({row['last_pushed'][ch]})"
                 for ch in ("shopify_us", "woo_us", "amazon_us")]  # fmt: skip
        flash.add_row(sku, str(row["stock"]), str(row["demand"]), str(row["sold"]), *cells)
    out.print(flash)
    out.print(
        f"Deployment: {folder / 'deploy.yaml'}. Explore the ledger it left: hub ledger positions, "
        "hub orders show KEY, hub review list, hub dlq list, hub trace MESSAGE_ID."
    )


def demo(
    orders: Annotated[int, typer.Option("--orders", min=10, help="Orders in the day.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Fixes the day's traffic.")] = 7,
    folder: Annotated[
        Path, typer.Option("--dir", help="Where the deployment, secrets and catalogue are written.")
    ] = Path(".hub-demo"),
    seconds: Annotated[
        float, typer.Option("--seconds", min=1.0, help="Real seconds the simulated day takes.")
    ] = 10.0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No live progress.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """A simulated day of traffic from every vendor through the embedded hub, then a summary."""
    from hub.demo_run import DemoError, run_demo

    try:
        summary = asyncio.run(
            run_demo(orders=orders, seed=seed, folder=folder, seconds=seconds,
                     live=not (quiet or as_json) and console.is_terminal)
        )  # fmt: skip
    except DemoError as exc:
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        _print_summary(summary, folder)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
