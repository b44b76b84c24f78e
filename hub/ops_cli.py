"""Operator commands: dead letters, the review and exception queues, a message's trace, the audit.

Each reads the operations tables beside the ledger (``--ledger URL``, else ``HUB_LEDGER_URL``, else
the embedded file, so after ``hub demo`` or ``hub run`` they need no flags) and prints for people,
or JSON with ``--json``. Decisions that move a message on (replay, approve, resubmit) run it through
the whole pipeline again, with the deployment's connectors and rules (``--config``).
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
from rich.table import Table
from rich.tree import Tree

from hub.operations import OperationsStore
from hub.operations.store import DEAD_LETTER_STATUSES, DeadLetterNotOpenError, DeadLetterRow
from router.audit import AuditRecord

__all__ = ["audit_app", "dlq_app", "review_app", "trace"]

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

dlq_app = typer.Typer(
    help="Dead letters: list, show, replay, or resolve them by hand.", no_args_is_help=True
)
review_app = typer.Typer(
    help="The review and exception queues: list, approve, reject.", no_args_is_help=True
)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

LedgerOption = Annotated[
    str | None,
    typer.Option("--ledger", help="Ledger URL (default: HUB_LEDGER_URL or the embedded file)."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Deployment file (connectors and rules).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _store(ledger: str | None) -> OperationsStore:
    from hub.ledger.url import open_database, parse_ledger_url, resolve_ledger_url

    target = parse_ledger_url(resolve_ledger_url(ledger))
    if target.kind == "sqlite" and not Path(target.location).expanduser().exists():
        errors.print(f"no ledger at {target.location}; run the hub first or pass --ledger")
        raise typer.Exit(1)
    db: Any = open_database(resolve_ledger_url(ledger))
    return OperationsStore(db)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str) + "\n")


@dlq_app.command("list")
def dlq_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    stage: Annotated[str | None, typer.Option(help="Only this stage.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only reasons containing this text.")] = None,
    status: Annotated[
        str, typer.Option(help="open, replayed, resolved, or all (default: open).")
    ] = "open",
    include_replayed: Annotated[
        bool, typer.Option("--all", help="Every status (same as --status all).")
    ] = False,
    limit: int = 100,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """List dead letters (open ones unless --status or --all)."""
    if status != "all" and status not in DEAD_LETTER_STATUSES:
        errors.print(f"unknown status {status!r}: open, replayed, resolved or all")
        raise typer.Exit(2)
    rows = _store(ledger).dead_letters(
        tenant=tenant,
        stage=stage,
        reason_contains=reason,
        status=None if include_replayed or status == "all" else status,
        limit=limit,
    )
    if as_json:
        _print_json([r.as_json() for r in rows])
        return
    table = Table("id", "tenant", "status", "stage", "instance", "event", "failed at", "reason")
    for row in rows:
        table.add_row(
            str(row.id), row.tenant, row.status, row.stage, row.instance, row.event,
            row.failed_at.strftime("%Y-%m-%d %H:%M:%S"), row.reason,
        )  # fmt: skip
    console.print(table)


@dlq_app.command("show")
def dlq_show(
    letter_id: Annotated[int, typer.Argument(help="The dead letter's id.")],
    body: Annotated[
        bool, typer.Option("--body", help="Also print the raw vendor payload.")
    ] = False,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one dead letter: reason, every attempt's error, and (with --body) the payload."""
    row = _store(ledger).dead_letter(letter_id)
    if row is None:
        errors.print(f"no dead letter {letter_id}")
        raise typer.Exit(1)
    data = row.as_json()
    if body:
        data["body"] = row.raw.body.decode("utf-8", "replace")
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/bold]: {value}", highlight=False)


@dlq_app.command("replay")
def dlq_replay(
    letter_ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Replay every open letter (with filters).")
    ] = False,
    tenant: Annotated[str | None, typer.Option(help="With --all: only this tenant.")] = None,
    reason: Annotated[str | None, typer.Option(help="With --all: reasons containing this.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also replay letters that were resolved by hand.")
    ] = False,
    config: ConfigOption = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send dead letters through the whole pipeline again (idempotent: nothing applies twice).

    A letter resolved by hand (``hub dlq resolve``) is refused unless --force: its failure was
    handled outside the hub, and replaying it could do the thing the operator prevented.
    """
    from hub.config import load_deployment
    from hub.config.model import Deployment
    from hub.outbound import replay_dead_letters
    from hub.runtime import open_runtime

    store = _store(ledger)
    if every:
        rows = store.dead_letters(tenant=tenant, reason_contains=reason, limit=10_000)
    else:
        found = [store.dead_letter(i) for i in letter_ids or []]
        rows = [r for r in found if r is not None]
    resolved = [r for r in rows if r.status == "resolved"]
    if resolved and not force:
        for row in resolved:
            errors.print(
                f"dead letter {row.id} was resolved by hand by {row.resolved_by} "
                f"({row.resolution_note}); pass --force to replay it anyway"
            )
        raise typer.Exit(1)
    if not rows:
        errors.print("nothing to replay")
        raise typer.Exit(1)
    deployment = load_deployment(config) if config else Deployment()
    runtime = open_runtime(deployment, ledger_url=ledger)
    started = datetime.now(UTC)
    try:
        results = asyncio.run(replay_dead_letters(runtime, rows))
    finally:
        runtime.close()
    store.mark_replayed([r.id for r in rows], since=started)
    outcome = {row.id: ",".join(result) for row, result in zip(rows, results, strict=True)}
    if as_json:
        _print_json([{"id": i, "outcome": o} for i, o in outcome.items()])
        return
    for letter_id, disposition in outcome.items():
        console.print(f"dead letter {letter_id}: {disposition}")


def _resolve_one(store: OperationsStore, letter_id: int, actor: str, note: str) -> DeadLetterRow:
    try:
        row = store.resolve(letter_id, actor=actor, note=note)
    except (DeadLetterNotOpenError, ValueError) as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    if row is None:
        errors.print(f"no dead letter {letter_id}")
        raise typer.Exit(1)
    return row


@dlq_app.command("resolve")
def dlq_resolve(
    letter_ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids.")] = None,
    note: Annotated[
        str, typer.Option(help="Why it is closed without replay (kept, and in the audit log).")
    ] = "",
    actor: Annotated[
        str | None,
        typer.Option(help="Who resolves (in the audit log; default: cli:<your user name>)."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Resolve every open letter (with filters).")
    ] = False,
    tenant: Annotated[str | None, typer.Option(help="With --all: only this tenant.")] = None,
    reason: Annotated[str | None, typer.Option(help="With --all: reasons containing this.")] = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close open dead letters by hand, without replaying them, with a note (audited).

    For failures handled outside the hub. The letters are kept with status ``resolved``; resolving
    one that is already resolved or was replayed is an error (exit 1).
    """
    import getpass

    if not note.strip():
        errors.print("--note is required: say why the letter is closed without replay")
        raise typer.Exit(2)
    try:
        who = actor or f"cli:{getpass.getuser()}"
    except OSError:
        errors.print("cannot tell who you are: pass --actor")
        raise typer.Exit(2) from None
    store = _store(ledger)
    if every:
        ids = [
            r.id for r in store.dead_letters(tenant=tenant, reason_contains=reason, limit=10_000)
        ]
    else:
        ids = list(letter_ids or [])
    if not ids:
        errors.print("nothing to resolve")
        raise typer.Exit(1)
    # Check them all first, so a mistyped id does not leave half of a batch resolved.
    for letter_id in ids:
        found = store.dead_letter(letter_id)
        if found is None:
            errors.print(f"no dead letter {letter_id}")
            raise typer.Exit(1)
        if found.status != "open":
            errors.print(str(DeadLetterNotOpenError(found)))
            raise typer.Exit(1)
    done = [_resolve_one(store, letter_id, who, note) for letter_id in ids]
    if as_json:
        _print_json([r.as_json() for r in done])
        return
    for row in done:
        console.print(f"dead letter {row.id}: resolved by {row.resolved_by}", highlight=False)


@review_app.command("list")
def review_list(
    queue: Annotated[str | None, typer.Option(help="review or exception (default: both).")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """List messages waiting for a person, oldest first, with their age against the SLA."""
    now = datetime.now(UTC)
    rows = _store(ledger).held(tenant=tenant, queue=queue)
    if as_json:
        _print_json([r.as_json(now) for r in rows])
        return
    table = Table("id", "queue", "tenant", "order", "rule", "age", "reason")
    for row in rows:
        age = row.age(now)
        shown = f"{int(age.total_seconds() // 60)} min"
        if now > row.due_at:
            shown = f"[red]{shown} (SLA)[/red]"
        table.add_row(
            str(row.id), row.queue, row.tenant, row.order_key or "", row.rule, shown, row.reason
        )
    console.print(table)


def _decide(
    held_id: int,
    approve: bool,
    actor: str,
    note: str | None,
    config: Path | None,
    ledger: str | None,
) -> str:
    from hub.config import load_deployment
    from hub.config.model import Deployment
    from hub.runtime import open_runtime

    store = _store(ledger)
    row = store.held_item(held_id)
    if row is None or row.status != "open":
        errors.print(f"no open held message {held_id}")
        raise typer.Exit(1)
    if not approve:
        store.reject(row, actor=actor, note=note)
        return "rejected"
    deployment = load_deployment(config) if config else Deployment()
    runtime = open_runtime(deployment, ledger_url=ledger)
    try:
        result = asyncio.run(runtime.router.resume(row.message, actor=actor))
    finally:
        runtime.close()
    store.decide(held_id, status="approved", actor=actor, note=note)
    return ",".join(d.value for d in result.dispositions)


@review_app.command("approve")
def review_approve(
    held_id: Annotated[int, typer.Argument(help="The held message's id.")],
    actor: Annotated[str, typer.Option(help="Who decides (recorded in the audit log).")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    config: ConfigOption = None,
    ledger: LedgerOption = None,
) -> None:
    """Approve a held message: it resumes after the rule that stopped it."""
    console.print(f"held message {held_id}: {_decide(held_id, True, actor, note, config, ledger)}")


@review_app.command("reject")
def review_reject(
    held_id: Annotated[int, typer.Argument(help="The held message's id.")],
    actor: Annotated[str, typer.Option(help="Who decides (recorded in the audit log).")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    ledger: LedgerOption = None,
) -> None:
    """Reject a held message: it never reaches the ledger; the decision is audited."""
    console.print(f"held message {held_id}: {_decide(held_id, False, actor, note, None, ledger)}")


def _record_json(record: AuditRecord, start: datetime) -> dict[str, Any]:
    return {
        "stage": record.stage,
        "outcome": record.outcome,
        "reason": record.reason,
        "at": record.at.isoformat(),
        "offset_ms": round((record.at - start).total_seconds() * 1000, 3),
        "actor": record.actor,
        "trace_id": record.trace_id,
        "order_key": record.order_key,
        "message_id": record.message_id,
    }


def trace(
    message_id: Annotated[
        str, typer.Argument(help="An envelope's message id or the raw message id.")
    ],
    tenant: Annotated[
        str | None, typer.Option(help="The tenant (searched in all when omitted).")
    ] = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """One message's path through the stages, with timings, from the audit log."""
    store = _store(ledger)
    tenants = [tenant] if tenant else store.tenants_with_audit()
    records: list[AuditRecord] = []
    for name in tenants:
        records = store.audit_trail(name, message_id=message_id)
        if records:
            break
    if not records:
        errors.print(f"no audit records for message {message_id}")
        raise typer.Exit(1)
    start = records[0].at
    if as_json:
        _print_json(
            {
                "message_id": message_id,
                "tenant": records[0].tenant,
                "stages": [_record_json(r, start) for r in records],
            }
        )
        return
    tree = Tree(f"message {message_id} ({records[0].tenant})")
    for record in records:
        offset = (record.at - start).total_seconds() * 1000
        label = f"+{offset:8.1f} ms  {record.stage:<12} {record.outcome}"
        if record.reason:
            label += f"  {record.reason}"
        if record.actor:
            label += f"  by {record.actor}"
        tree.add(label)
    console.print(tree, highlight=False)


@audit_app.command("verify")
def audit_verify(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Seal new records and verify each tenant's hash chain; exit 1 if any is broken."""
    store = _store(ledger)
    tenants = [tenant] if tenant else store.tenants_with_audit()
    report = {name: store.verify(name) for name in tenants}
    if as_json:
        _print_json({"intact": not any(report.values()), "problems": report})
    else:
        for name, problems in report.items():
            if problems:
                errors.print(f"{name}: chain BROKEN")
                for problem in problems:
                    errors.print(f"  - {problem}")
            else:
                console.print(f"{name}: chain intact")
    if any(report.values()):
        raise typer.Exit(1)
