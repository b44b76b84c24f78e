"""The one invariant checker every fault scenario ends with (notes §A7, I-1 to I-8).

It reads the ledger's and the operations store's tables (one database) after a run and fails with
every broken invariant at once, so a scenario's failure names all that went wrong, not the first:

* **Outcomes (I-1, I-7)**: every accepted raw message has audit records and one of them is a
  terminal outcome (applied, duplicate, stale, parked, dead-lettered, held for review or as an
  exception, ignored, rejected by an operator); the ledger holds exactly one processed row per
  effect the router audited (``deliver`` applied/stale/parked), so nothing was applied twice or
  without its audit record; nothing is still parked; no idempotency key is both applied and
  waiting in the dead-letter or held queues.
* **Conservation (I-2)**: the journal sums to every position, bucket by bucket.
* **No oversell (I-3)**: no bucket is negative, and on-hand covers allocated unless the SKU allows
  backorders.
* **No double reservation (I-4)**: each order line's reservation equals the net of the journal's
  reservation rows for that line, is at most what is left to ship, and the lines' reservations add
  up to each position's allocated figure.
* **Outbox (I-6)**: every reserved line has its ``order.allocated``/``order.backordered`` event and
  every SKU the journal touched has an ``availability.changed`` event.
* **Audit (I-8)**: every open dead letter and held message has its audit record.

A router whose ledger cannot write audit records in its own transaction writes a batch's records
after the ledger's commit, so a kill between the two would leave effects without their
``deliver`` record (the redelivery then audited as a duplicate). The hub's ledger writes them with
the effects (``Ledger.apply_audited``), so the scenarios allow no such gap; a checker run can still
tolerate one explicitly (``unaudited_effects_allowed``), counted in
``InvariantReport.unaudited_effects``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from canonical import Envelope
from hub.ledger.store import Ledger

__all__ = ["InvariantReport", "check_invariants"]

TERMINAL = frozenset(
    {
        "applied",
        "duplicate",
        "stale",
        "parked",
        "dead_lettered",
        "review",
        "exception",
        "ignored",
        "rejected",
    }
)
EFFECTS = frozenset({"applied", "stale", "parked"})


@dataclass
class InvariantReport:
    """What the checker counted, for the scenario's own assertions."""

    processed: Counter[str] = field(default_factory=Counter)  # ledger outcome -> rows
    final: Counter[str] = field(default_factory=Counter)  # last audit outcome -> raw messages
    audited_effects: Counter[str] = field(default_factory=Counter)  # deliver outcome -> records
    dead_letters: int = 0
    held: Counter[str] = field(default_factory=Counter)  # queue -> open held messages
    retries: int = 0  # audit records of in-process retries and redeliveries
    unaudited_effects: int = 0  # ledger effects whose deliver record a crash lost (see above)
    problems: list[str] = field(default_factory=list)


def check_invariants(
    ledger: Ledger,
    *,
    accepted: Iterable[str],
    direct: int = 0,
    unaudited_effects_allowed: int = 0,
) -> InvariantReport:
    """Check I-1 to I-8 after a run; ``accepted`` are the raw ids the transport accepted and
    ``direct`` the envelopes applied to the ledger without the router (stock receipts);
    ``unaudited_effects_allowed`` bounds the known crash gap described in the module doc."""
    query = ledger.db.query
    report = InvariantReport()
    problems = report.problems

    # -- outcomes --------------------------------------------------------------------------------
    # A redelivery that was claimed while the first delivery still waited on the database can end
    # after it: the first then records a late ``retry`` for a message that is already applied (and
    # acknowledged). What matters is that every message reached a terminal outcome, once.
    last: dict[str, str] = {}
    last_terminal: dict[str, str] = {}
    for stage, outcome, details in query(
        "SELECT stage, outcome, details FROM audit_log ORDER BY id"
    ):
        raw_id = json.loads(details).get("raw_id")
        if stage == "deliver" and outcome in EFFECTS:
            report.audited_effects[outcome] += 1
        if outcome in {"retry", "retrying", "busy"}:
            report.retries += 1
        # side notes about the fast path are not outcomes of the message they are filed under
        if raw_id is not None and outcome not in {"bypassed", "mark_failed"}:
            last[raw_id] = outcome
            if outcome in TERMINAL:
                last_terminal[raw_id] = outcome
    accepted = set(accepted)
    for raw_id in sorted(accepted):
        outcome = last_terminal.get(raw_id)
        if raw_id not in last:
            problems.append(f"I-7: accepted message {raw_id} has no audit record")
        elif outcome is None:
            problems.append(
                f"I-7: message {raw_id} ended on {last[raw_id]!r}, never a terminal outcome"
            )
        else:
            report.final[outcome] += 1

    processed = query("SELECT idempotency_key, outcome FROM processed_messages")
    report.processed = Counter(outcome for _, outcome in processed)
    applied_keys = {key for key, _ in processed}
    gap = len(processed) - direct - sum(report.audited_effects.values())
    if 0 < gap <= unaudited_effects_allowed:
        report.unaudited_effects = gap
    elif gap:
        problems.append(
            f"I-1: the ledger holds {len(processed) - direct} processed messages from the router "
            f"but the audit log records {sum(report.audited_effects.values())} effects "
            f"({dict(report.audited_effects)})"
        )
    if report.processed["parked"]:
        problems.append(f"I-7: {report.processed['parked']} messages still wait for their order")
    for status, count in query("SELECT status, COUNT(*) FROM parked_messages GROUP BY status"):
        problems.append(f"I-7: {count} parked messages left with status {status!r}")

    letters = query("SELECT raw_id, envelope FROM dead_letters WHERE status = 'open'")
    report.dead_letters = len(letters)
    for raw_id, envelope in letters:
        if last.get(raw_id) != "dead_lettered":
            problems.append(f"I-8: open dead letter {raw_id} has no dead_lettered audit record")
        if envelope and Envelope.model_validate_json(envelope).idempotency_key in applied_keys:
            problems.append(f"I-1: dead letter {raw_id} was also applied")
    held = query("SELECT queue, idempotency_key FROM held_messages WHERE status = 'open'")
    report.held = Counter(queue for queue, _ in held)
    audited_holds = Counter(
        outcome
        for (outcome,) in query(
            "SELECT outcome FROM audit_log WHERE stage = 'govern' "
            "AND outcome IN ('review', 'exception')"
        )
    )
    for queue, count in report.held.items():
        if audited_holds[queue] < count:
            problems.append(f"I-8: {count} held in {queue} but {audited_holds[queue]} audited")
    for queue, key in held:
        if key in applied_keys:
            problems.append(f"I-1: a message held in {queue} was also applied ({key})")

    # -- stock -----------------------------------------------------------------------------------
    journal = ledger.journal_totals()
    backorder = {
        (tenant, sku)
        for tenant, sku in query("SELECT tenant, sku FROM skus WHERE backorder_allowed = TRUE")
    }
    allocated_by_lines: Counter[tuple[str, str, str]] = Counter()
    positions = ledger.positions()
    for p in positions:
        where = (p.tenant, p.sku, p.location)
        buckets = {
            "on_hand": p.on_hand,
            "allocated": p.allocated,
            "in_transit": p.in_transit,
            "returns_pending": p.returns_pending,
            "damaged": p.damaged,
        }
        sums = journal.get(where, dict.fromkeys(buckets, 0))
        if sums != buckets:
            problems.append(f"I-2: journal {sums} != position {buckets} at {where}")
        if any(value < 0 for value in buckets.values()):
            problems.append(f"I-3: negative bucket at {where}: {buckets}")
        if p.on_hand < p.allocated and (p.tenant, p.sku) not in backorder:
            problems.append(f"I-3: oversold {where}: on hand {p.on_hand} < allocated {p.allocated}")
    for where in journal.keys() - {(p.tenant, p.sku, p.location) for p in positions}:
        problems.append(f"I-2: journal rows for {where} but no position")

    net: dict[tuple[str, str], int] = defaultdict(int)
    for tenant, reference, allocated in query(
        "SELECT tenant, reference, SUM(d_allocated) FROM movements WHERE reference IS NOT NULL "
        "GROUP BY tenant, reference"
    ):
        net[(tenant, reference)] = int(allocated)
    events: dict[tuple[str, str], set[str]] = defaultdict(set)
    availability: set[tuple[str, str]] = set()
    for tenant, event_type, key, payload in query(
        "SELECT tenant, event_type, event_key, payload FROM outbox"
    ):
        if event_type in ("order.allocated", "order.backordered"):
            for line in json.loads(payload)["lines"]:
                events[(tenant, key)].add(line["line_id"])
        elif event_type == "availability.changed":
            availability.add((tenant, key.split("@", 1)[0]))
    for tenant, key, line_id, sku, location, quantity, reserved, shipped in query(
        "SELECT tenant, order_key, line_id, sku, location, quantity, reserved, shipped "
        "FROM order_lines"
    ):
        reference = f"{key}/{line_id}"
        if int(reserved) != net[(tenant, reference)]:
            problems.append(
                f"I-4: line {reference} holds {reserved} but its journal reservations net "
                f"{net[(tenant, reference)]}"
            )
        if int(reserved) > max(0, int(quantity) - int(shipped)):
            problems.append(f"I-4: line {reference} reserves {reserved} of {quantity - shipped}")
        if int(reserved) > 0:
            allocated_by_lines[(tenant, sku, location)] += int(reserved)
            if line_id not in events[(tenant, key)]:
                problems.append(f"I-6: reserved line {reference} has no allocation event")
    for p in positions:
        where = (p.tenant, p.sku, p.location)
        if allocated_by_lines[where] != p.allocated:
            problems.append(
                f"I-4: lines reserve {allocated_by_lines[where]} at {where}, "
                f"the position says {p.allocated}"
            )
    has_channels = bool(query("SELECT 1 FROM channels"))
    for tenant, sku, _location in journal:
        if has_channels and (tenant, sku) not in availability:
            problems.append(f"I-6: {sku} moved but no availability.changed event was written")

    assert not problems, "invariants broken:\n" + "\n".join(problems[:50])
    return report
