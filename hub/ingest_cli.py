"""``hub ingest``: push vendor payloads through the full pipeline, as a webhook would.

For backfills, support cases and demos: the files are stored exactly as the ingress stores a
verified webhook (the embedded inbox, or the broker's streams at scale), so the same translation,
rules, idempotency and ledger apply. Signature verification is skipped because the operator, not a
vendor, is the sender. ``--process`` also drains them at once in this process (embedded only).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from canonical import new_message_id
from router.ports import RawMessage

__all__ = ["ingest"]

console = Console(stderr=True, soft_wrap=True)


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Vendor payload files (JSON).")],
    tenant: Annotated[str, typer.Option(help="The tenant.")],
    instance: Annotated[str, typer.Option(help="The connector instance (as in the deployment).")],
    event: Annotated[
        str | None,
        typer.Option(
            help="The vendor event (e.g. orders/create); read from the payload if omitted."
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Deployment file.")] = None,
    ledger: Annotated[str | None, typer.Option("--ledger", help="Ledger URL.")] = None,
    process: Annotated[
        bool, typer.Option("--process", help="Also process them now, in this process (embedded).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Store vendor payloads as accepted messages (and optionally process them now)."""
    from hub.config import load_deployment
    from hub.config.model import Deployment
    from hub.runtime import embedded_inbox_path, open_runtime
    from router.transport.inbox import SqliteInbox

    deployment = load_deployment(config) if config else Deployment()
    runtime = open_runtime(deployment, ledger_url=ledger)
    try:
        connector = runtime.instances.get((tenant, instance))
        if connector is None:
            console.print(
                f"no connector instance {instance!r} for tenant {tenant!r} in the deployment"
            )
            raise typer.Exit(2)
        raws = []
        for file in files:
            body = file.read_bytes()
            try:
                payload: Any = json.loads(body)
            except json.JSONDecodeError as exc:
                console.print(f"{file}: not JSON ({exc})")
                raise typer.Exit(1) from None
            name = event or type(connector).webhook_event({}, payload)
            raws.append(
                RawMessage(
                    id=str(new_message_id()),
                    tenant=tenant,
                    instance=instance,
                    event=name,
                    body=body,
                    received_at=datetime.now(UTC),
                    headers={"x-hub-ingested-from": file.name},
                )
            )
        if deployment.broker.kind == "redis":
            from redis.asyncio import Redis

            from hub.scale import RedisSink, streams_config

            async def publish() -> None:
                client = Redis.from_url(deployment.broker.url or "")
                await RedisSink(client, streams_config(deployment)).put(raws)
                await client.aclose()

            asyncio.run(publish())
            outcomes: dict[str, str] = {raw.id: "queued" for raw in raws}
        elif process:
            results = asyncio.run(runtime.router.process(raws))
            outcomes = {r.raw_id: ",".join(d.value for d in r.dispositions) for r in results}
        else:
            inbox = SqliteInbox(embedded_inbox_path(runtime.ledger_url))
            inbox.put(raws)
            inbox.close()
            outcomes = {raw.id: "queued" for raw in raws}
    finally:
        runtime.close()
    rows = [
        {"file": str(file), "id": raw.id, "event": raw.event, "outcome": outcomes[raw.id]}
        for file, raw in zip(files, raws, strict=True)
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for row in rows:
        typer.echo(f"{row['file']}: {row['event']} -> {row['outcome']} ({row['id']})")
