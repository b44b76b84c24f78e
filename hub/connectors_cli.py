"""``hub connectors list`` and ``hub translate``: the connectors, seen from the command line.

``hub translate CONNECTOR EVENT FILE`` reads one vendor payload and prints the canonical envelopes as
JSON lines. Exit codes: 0 translated, 1 the payload cannot be translated (the message names the
vendor field), 2 unknown connector or event (or bad usage). Output is deterministic: the received-at
time is fixed with ``--received-at`` and message ids are derived, not random.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from connectors.base import load_payload
from connectors.errors import (
    ConnectorConfigError,
    TranslationError,
    UnknownConnectorError,
    UnknownEventError,
)
from connectors.registry import discover, get_connector
from connectors.spec import TranslationContext

__all__ = ["connectors_app", "translate"]

connectors_app = typer.Typer(
    help="Connectors: the built-ins and any installed through entry points.", no_args_is_help=True
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

#: Used when --received-at is not given, so that two runs print the same bytes.
DEFAULT_RECEIVED_AT = "1970-01-01T00:00:00Z"


@connectors_app.command("list")
def connectors_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every connector: name, kind, version and the vendor events it translates."""
    try:
        found = discover()
    except ConnectorConfigError as exc:
        errors.print(f"connector discovery failed: {exc}")
        raise typer.Exit(1) from None
    rows = [cls.describe() for cls in found.values()]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("name", "kind", "version", "events", "emits")
    for row in rows:
        table.add_row(
            row["name"],
            row["kind"],
            row["version"],
            ", ".join(row["events"]),
            ", ".join(row["emits"]),
        )
    console.print(table)


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("--received-at needs a time zone, e.g. 2026-03-02T15:00:00Z")
    return parsed.astimezone(UTC)


def translate(
    connector: Annotated[str, typer.Argument(help="Connector name, e.g. shopify.")],
    event: Annotated[str, typer.Argument(help="Vendor event, e.g. orders/create or getOrders.")],
    file: Annotated[Path, typer.Argument(help="The vendor payload (JSON), or - for stdin.")],
    received_at: Annotated[
        str, typer.Option("--received-at", help="When the hub received it (ISO 8601).")
    ] = DEFAULT_RECEIVED_AT,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")] = "default",
    instance: Annotated[
        str | None, typer.Option("--instance", help="Connector instance (default: its name).")
    ] = None,
) -> None:
    """Translate one vendor payload into canonical envelopes, printed as JSON lines."""
    try:
        cls = get_connector(connector)
    except UnknownConnectorError as exc:
        errors.print(str(exc))
        raise typer.Exit(2) from None
    if event not in cls.events:
        known = ", ".join(sorted(cls.events))
        errors.print(f"unknown event {event!r} for {connector}; it translates: {known}")
        raise typer.Exit(2)
    when = _parse_time(received_at)
    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        errors.print(f"{file}: {exc.strerror}")
        raise typer.Exit(1) from None
    ctx = TranslationContext(tenant=tenant, instance=instance or cls.name, received_at=when)
    try:
        envelopes = cls.translate(event, load_payload(raw), ctx)
    except TranslationError as exc:
        errors.print(f"{file}: cannot translate: {exc}")
        raise typer.Exit(1) from None
    except UnknownEventError as exc:
        errors.print(str(exc))
        raise typer.Exit(2) from None
    for envelope in envelopes:
        sys.stdout.write(envelope.model_dump_json() + "\n")
