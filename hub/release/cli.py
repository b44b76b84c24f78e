"""``hub release plan|run``: the next wave per location and why each order is in or out; then
releasing it.

The policy is the deployment's (``--config FILE``, else the version last deployed to this ledger,
else the defaults). ``--at`` plans for another moment than now (what will the 16:00 wave be?).
Both commands take ``--ledger URL`` and ``--json``, like every command that reads the ledger.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.config.model import Deployment
from hub.errors import HubError
from hub.release.candidates import LedgerReader
from hub.release.model import Candidate, LocationWave, WavePlan, only_location
from hub.release.planner import plan_wave
from hub.release.policy import ReleasePolicy

__all__ = ["release_app"]

release_app = typer.Typer(
    help="Release allocated orders to their fulfilment nodes in waves (docs/release.md).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

LocationOption = Annotated[
    str | None, typer.Option("--location", help="Only this location's wave.")
]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant (default: every tenant).")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Deployment file with the release policy (default: the active one)."
    ),
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at", help="Plan as at this ISO time with a zone (default: now).", show_default=False
    ),
]
LedgerOption = Annotated[
    str | None,
    typer.Option("--ledger", help="Ledger URL (default: HUB_LEDGER_URL or the embedded file)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@dataclass(frozen=True, slots=True)
class _TenantPlan:
    tenant: str
    policy: ReleasePolicy
    candidates: list[Candidate]
    plan: WavePlan


def _fail(message: str) -> typer.Exit:
    errors.print(message, markup=False, highlight=False)
    return typer.Exit(1)


def _moment(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"--at {at!r} is not an ISO time (e.g. 2026-03-02T16:00:00-05:00)") from None
    if moment.tzinfo is None:
        raise _fail(f"--at {at!r} has no time zone; add one (Z, +01:00...)")
    return moment


def _deployment(config: Path | None, reader: LedgerReader) -> Deployment:
    from hub.config import DeploymentInvalidError, load_deployment, validate_text

    if config is not None:
        try:
            return load_deployment(config, check_secrets=False)
        except DeploymentInvalidError as exc:
            raise _fail(str(exc)) from None
        except HubError as exc:
            raise _fail(str(exc)) from None
    document = reader.active_deployment()
    if document is None:
        return Deployment()
    deployment, problems = validate_text(
        document, filename="active deployment", check_secrets=False
    )
    return deployment if deployment is not None and not problems else Deployment()


def _reader(ledger: str | None) -> tuple[str, LedgerReader]:
    """The ledger's URL and a read-only reader on it, once the ledger is known to be there and
    migrated (opening it as a :class:`Ledger` checks that, and migrates the embedded default)."""
    from hub.ledger.store import Ledger
    from hub.ledger.url import parse_ledger_url, resolve_ledger_url

    url = resolve_ledger_url(ledger)
    target = parse_ledger_url(url)
    if target.kind == "sqlite" and not Path(target.location).expanduser().exists():
        raise _fail(f"no ledger at {target.location}; run the hub first or pass --ledger")
    try:
        Ledger(url).close()
        return url, LedgerReader(url)
    except HubError as exc:
        raise _fail(str(exc)) from None


def _plans(
    reader: LedgerReader,
    deployment: Deployment,
    tenant: str | None,
    location: str | None,
    now: datetime,
) -> list[_TenantPlan]:
    tenants = (
        [tenant] if tenant else sorted(set(deployment.tenants) | set(reader.waiting_tenants()))
    )
    plans: list[_TenantPlan] = []
    for name in tenants:
        config = deployment.tenants.get(name)
        policy = config.release if config is not None else ReleasePolicy()
        candidates = reader.candidates(name, now)
        plan = plan_wave(candidates, policy, now, reader.released_today(name, policy, now))
        if location is not None:
            plan = only_location(plan, location)
        plans.append(_TenantPlan(name, policy, candidates, plan))
    return plans


def _load(
    location: str | None,
    tenant: str | None,
    config: Path | None,
    at: str | None,
    ledger: str | None,
) -> tuple[str, datetime, list[_TenantPlan]]:
    """The ledger URL, the planning moment and each tenant's plan, from the commands' options."""
    now = _moment(at)
    url, reader = _reader(ledger)
    try:
        return url, now, _plans(reader, _deployment(config, reader), tenant, location, now)
    finally:
        reader.close()


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, sort_keys=True) + "\n")


def _print_wave(tenant: str, wave: LocationWave) -> None:
    limits = ", ".join(
        f"{label} {value}"
        for label, value in (
            ("orders/wave", wave.orders_per_wave),
            ("units/wave", wave.units_per_wave),
            ("orders/day", wave.orders_per_day),
            ("units/day", wave.units_per_day),
        )
        if value is not None
    )
    used = wave.usage_before
    console.print(
        f"[bold]{tenant} / {wave.location}[/bold] wave {wave.wave_id} ({wave.local_date}): "
        f"{len(wave.released)} orders, {wave.units} units; limits {limits}; released earlier "
        f"today {used.orders} orders, {used.units} units",
        highlight=False,
    )
    table = Table("", "order", "level", "units", "ship by", "reason", "why")
    for decision in (*wave.released, *wave.held):
        mark = "[green]in[/green]" if decision.released else "[yellow]out[/yellow]"
        reason = decision.reason.value + (" [red](at risk)[/red]" if decision.at_risk else "")
        table.add_row(
            mark,
            decision.order_key,
            decision.service_level,
            str(decision.units),
            str(decision.ship_by or "-"),
            reason,
            decision.detail,
        )
    console.print(table)


@release_app.command("plan")
def plan(
    location: LocationOption = None,
    tenant: TenantOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the next wave per location: which orders go, which wait, and why."""
    _, now, plans = _load(location, tenant, config, at, ledger)
    if as_json:
        _dump({"as_of": now.isoformat(), "tenants": [_plan_json(p) for p in plans]})
        return
    waves = [(p.tenant, w) for p in plans for w in p.plan.waves.values()]
    if not waves:
        console.print("nothing waits for release")
    for name, wave in waves:
        _print_wave(name, wave)


def _plan_json(entry: _TenantPlan) -> dict[str, Any]:
    return {"tenant": entry.tenant, **entry.plan.as_json()}


@release_app.command("run")
def run(
    location: LocationOption = None,
    tenant: TenantOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
    ledger: LedgerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release the next wave: a fulfilment request per order, applied to the ledger (which marks
    it released and emits order.released for the node's connector). Exit 1 if any is refused."""
    from hub.ledger.store import Ledger
    from hub.release.run import run_wave

    url, now, plans = _load(location, tenant, config, at, ledger)
    try:
        opened = Ledger(url)
    except HubError as exc:
        raise _fail(str(exc)) from None
    with opened:
        results = {
            p.tenant: run_wave(opened, p.tenant, p.plan, p.candidates, p.policy) for p in plans
        }
    refused = [o for outcomes in results.values() for o in outcomes if o.outcome == "rejected"]
    if as_json:
        _dump(
            {
                "as_of": now.isoformat(),
                "tenants": [
                    {**_plan_json(p), "results": [o.as_json() for o in results[p.tenant]]}
                    for p in plans
                ],
            }
        )
    else:
        _print_results(plans, results)
    if refused:
        raise typer.Exit(1)


def _print_results(plans: list[_TenantPlan], results: dict[str, list[Any]]) -> None:
    table = Table("tenant", "order", "location", "wave", "request", "outcome", title="Released")
    for entry in plans:
        for outcome in results[entry.tenant]:
            colour = "green" if outcome.outcome == "applied" else "yellow"
            table.add_row(
                entry.tenant,
                outcome.order_key,
                outcome.location,
                outcome.wave_id,
                outcome.request_id,
                f"[{colour}]{outcome.outcome}[/{colour}] {outcome.reason}".strip(),
            )
    if table.row_count:
        console.print(table)
    else:
        console.print("nothing to release in this wave")
    for entry in plans:
        for wave in entry.plan.waves.values():
            if not wave.held:
                continue
            counts: dict[str, int] = {}
            for decision in wave.held:
                counts[decision.reason.value] = counts.get(decision.reason.value, 0) + 1
            summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
            console.print(
                f"{entry.tenant} / {wave.location}: {len(wave.held)} held ({summary}); "
                "`hub release plan` says why",
                highlight=False,
            )
