"""Executing a wave: one canonical fulfilment request per released order, applied to the ledger.

The request goes through :meth:`hub.ledger.Ledger.apply` like any message, so the release is
exactly-once (its idempotency key derives from the deterministic request id), it marks the order
``released`` and the ledger emits ``order.released`` in the same transaction, which the outbox
relay hands to the node's connector (a ``from: ledger`` route). Nothing here talks to a node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Protocol

from canonical import Envelope, FulfillmentRequest, SourceRef
from canonical.fulfillment import FulfillmentLine
from canonical.inventory import Lot
from canonical.order import OrderRef
from canonical.party import Address
from hub.release.candidates import LedgerReader
from hub.release.commitment import ship_by_date
from hub.release.ids import parse_request_id, request_id
from hub.release.model import Candidate, WavePlan
from hub.release.policy import ReleasePolicy

__all__ = ["RELEASE_SOURCE", "ReleaseOutcome", "release_envelopes", "request_for", "run_wave"]

#: Who the ledger sees as the sender of a release.
RELEASE_SOURCE = SourceRef(connector="release", instance="release")


class _Applies(Protocol):
    def apply(self, envelopes: Sequence[Envelope]) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    """What the ledger answered for one order of the wave."""

    order_key: str
    location: str
    wave_id: str
    request_id: str
    outcome: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {
            "order": self.order_key,
            "location": self.location,
            "wave": self.wave_id,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "reason": self.reason,
        }


def _request(
    tenant: str,
    candidate: Candidate,
    request: str,
    policy: ReleasePolicy,
    day: date,
    requested_at: datetime,
    lines: list[FulfillmentLine] | None = None,
) -> FulfillmentRequest:
    """The request for one order's part: its reserved lines (one per lot picked, for a
    lot-controlled SKU), the service level's carrier at the node, that carrier's cut-off on the
    node's local ``day`` as the time to ship by, and the order's commitment as ``commit_by``."""
    rules = policy.location(candidate.location)
    level = candidate.service_level or policy.default_service_level
    cutoff = rules.cutoff_for(level)
    ship_by = (
        datetime.combine(day, cutoff.time, tzinfo=rules.zone).astimezone(UTC) if cutoff else None
    )
    last_day = ship_by_date(candidate, level, policy, rules)
    commit_by = (
        datetime.combine(
            last_day, cutoff.time if cutoff else time(23, 59, 59), tzinfo=rules.zone
        ).astimezone(UTC)
        if last_day is not None
        else None
    )
    return FulfillmentRequest(
        tenant=tenant,
        request_id=request,
        order=OrderRef(channel=candidate.channel, external_id=candidate.external_id),
        location=candidate.location,
        lines=lines if lines is not None else _lines(candidate),
        ship_to=candidate.ship_to or Address(),
        service_level=level,
        carrier=cutoff.carrier if cutoff else None,
        requested_at=requested_at,
        ship_by=ship_by,
        commit_by=commit_by,
    )


def _lines(candidate: Candidate) -> list[FulfillmentLine]:
    lines: list[FulfillmentLine] = []
    for line in candidate.lines:
        if not line.lots:
            lines.append(
                FulfillmentLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity)
            )
            continue
        lines.extend(
            FulfillmentLine(
                line_id=line.line_id,
                sku=line.sku,
                quantity=units,
                lot=Lot(number=lot, expires_at=_moment(expires)),
            )
            for lot, units, expires in line.lots
        )
    return lines


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def request_for(
    reader: LedgerReader,
    tenant: str,
    released: Mapping[str, Any],
    policy: ReleasePolicy,
    requested_at: datetime,
) -> FulfillmentRequest | None:
    """The fulfilment request behind a ledger ``order.released`` event (its payload), rebuilt
    from the ledger: what the outbox relay hands the node's connector. The event carries only the
    order, location and request id; the lines (and lots) come from the request as the ledger
    stored it, and the id names the wave's local day, so the carrier and the ship-by time come
    out as they were released. None if the order has nothing left there."""
    location = str(released["location"])
    request_id = str(released["request_id"])
    candidate = reader.part(tenant, str(released["order"]), location)
    if candidate is None:
        return None
    stored = reader.request_lines(tenant, request_id)
    lines = (
        [
            FulfillmentLine(
                line_id=line_id,
                sku=sku,
                quantity=quantity,
                lot=Lot(number=lot, expires_at=_moment(expires)) if lot else None,
            )
            for line_id, sku, quantity, lot, expires in stored
        ]
        if stored
        else None
    )
    parsed = parse_request_id(request_id)
    zone = policy.location(location).zone
    day = parsed.day if parsed is not None else requested_at.astimezone(zone).date()
    return _request(tenant, candidate, request_id, policy, day, requested_at, lines)


def release_envelopes(
    tenant: str, plan: WavePlan, candidates: Iterable[Candidate], policy: ReleasePolicy
) -> list[tuple[str, Envelope]]:
    """The ``fulfillment.requested`` envelopes of every released decision, with their wave id."""
    parts = {(c.order_key, c.location): c for c in candidates}
    envelopes: list[tuple[str, Envelope]] = []
    for name in sorted(plan.waves):
        wave = plan.waves[name]
        for decision in wave.released:
            candidate = parts[(decision.order_key, decision.location)]
            request = _request(
                tenant,
                candidate,
                request_id(candidate.location, wave.wave_id, candidate.order_key),
                policy,
                wave.local_date,
                plan.as_of,
            )
            envelope = Envelope.wrap(
                request,
                event_type="fulfillment.requested",
                source=RELEASE_SOURCE,
                source_ids=(request.request_id,),
                occurred_at=plan.as_of,
                correlation_id=candidate.order_key,
            )
            envelopes.append((wave.wave_id, envelope))
    return envelopes


def run_wave(
    ledger: _Applies,
    tenant: str,
    plan: WavePlan,
    candidates: Iterable[Candidate],
    policy: ReleasePolicy,
) -> list[ReleaseOutcome]:
    """Release the plan's waves in one ledger batch; one outcome per released order."""
    pairs = release_envelopes(tenant, plan, candidates, policy)
    if not pairs:
        return []
    results = ledger.apply([envelope for _, envelope in pairs])
    outcomes: list[ReleaseOutcome] = []
    for (wave_id, envelope), result in zip(pairs, results, strict=True):
        request = envelope.payload
        assert isinstance(request, FulfillmentRequest)
        outcomes.append(
            ReleaseOutcome(
                order_key=request.order.key,
                location=request.location,
                wave_id=wave_id,
                request_id=request.request_id,
                outcome=str(result.outcome),
                reason=str(result.reason or ""),
            )
        )
    return outcomes
