"""Model-based property test: random histories applied to the ledger and to an in-memory oracle.

Hypothesis draws receipts, adjustments, transfers, orders (created, updated with any version, so
snapshots arrive out of order), cancellations, shipments, returns, inspections and cycle counts,
with redeliveries of earlier messages, grouped into batches. After every batch the ledger must
agree with the oracle on every outcome, every position and every channel's available-to-promise;
the journal must sum to the positions; nothing may be negative (or oversold without a backorder
policy); and each message must be applied at most once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canonical import Disposition, Envelope, MovementKind
from hub.ledger import ChannelRule, ChannelStockPolicy, Ledger, LedgerPolicy
from tests.ledger import factory as f
from tests.ledger.conftest import as_url
from tests.ledger.oracle import BUCKETS, Oracle

SKUS = ["SKU-A", "SKU-B", "SKU-C"]
LOCATIONS = ["wh_a", "wh_b", "wh_c"]
CHANNELS = ["market", "web"]
BACKORDER = {"SKU-C"}
POLICY = LedgerPolicy(channels=ChannelStockPolicy(rules={"market": ChannelRule(protected=3)}))
TABLES = [
    "skus",
    "locations",
    "channels",
    "sku_external_ids",
    "positions",
    "movements",
    "channel_atp",
    "processed_messages",
    "orders",
    "order_lines",
    "order_history",
    "sourcing_decisions",
    "payments",
    "returns",
    "return_lines",
    "cycle_counts",
    "outbox",
    "fulfilment_requests",
    "fulfilment_request_lines",
    "shipments",
    "shipment_lines",
    "shipped_serials",
    "returned_serials",
    "fulfilment_exceptions",
    "lot_stock",
    "lot_movements",
]


def _fresh(ledger: Ledger) -> Oracle:
    ledger._run(lambda work: [work.db.execute(f"DELETE FROM {t}") for t in TABLES])
    f.setup_master_data(
        ledger,
        skus=tuple(SKUS),
        locations=tuple(LOCATIONS),
        channels=tuple(CHANNELS),
        backorder=tuple(BACKORDER),
    )
    return Oracle(POLICY, LOCATIONS, CHANNELS, BACKORDER)


def _draw_message(data: st.DataObject, oracle: Oracle, sent: list[Envelope], n: int) -> Envelope:
    kinds = [
        "receipt",
        "receipt",
        "adjust",
        "transfer",
        "transfer",
        "order",
        "order",
        "update",
        "cancel",
        "ship",
        "ship",
        "return",
        "inspect",
        "count",
    ]
    if sent:
        kinds += ["redeliver", "redeliver"]
    kind = data.draw(st.sampled_from(kinds))
    sku = data.draw(st.sampled_from(SKUS))
    loc = data.draw(st.sampled_from(LOCATIONS))
    qty = data.draw(st.integers(1, 6))
    orders = sorted(oracle.state.orders)
    if kind == "redeliver":
        return data.draw(st.sampled_from(sent))
    if kind == "receipt":
        return f.receipt(f"r{n}", sku, loc, qty)
    if kind == "adjust":
        return f.movement(
            f"a{n}", MovementKind.ADJUSTMENT, sku, loc, data.draw(st.sampled_from([-qty, qty]))
        )
    if kind == "transfer":
        other = data.draw(st.sampled_from([x for x in LOCATIONS if x != loc]))
        in_transit = sorted(
            (key, p["in_transit"]) for key, p in oracle.state.positions.items() if p["in_transit"]
        )
        if in_transit and data.draw(st.booleans()):  # arrive: mostly what is on its way
            (sku, loc), moving = data.draw(st.sampled_from(in_transit))
            other = next(x for x in LOCATIONS if x != loc)
            amount = data.draw(st.integers(1, moving + 1))
            return f.movement(
                f"t{n}", MovementKind.TRANSFER_IN, sku, loc, amount, counterpart=other
            )
        free = sorted(
            (key, p["on_hand"] - p["allocated"])
            for key, p in oracle.state.positions.items()
            if p["on_hand"] > p["allocated"]
        )
        if free:  # leave: mostly what is free to move
            (sku, loc), spare = data.draw(st.sampled_from(free))
            other = data.draw(st.sampled_from([x for x in LOCATIONS if x != loc]))
            qty = data.draw(st.integers(1, spare + 1))
        return f.movement(f"t{n}", MovementKind.TRANSFER_OUT, sku, loc, qty, counterpart=other)
    if kind == "count":
        as_of = f.at(data.draw(st.integers(0, 60)))
        return f.count(f"c{n}", loc, as_of, {sku: data.draw(st.integers(0, 8))})
    if kind in ("order", "update", "cancel") and (kind == "order" or not orders):
        lines = [
            (f"l{i}", s, data.draw(st.integers(1, 4)))
            for i, s in enumerate(
                data.draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=2, unique=True))
            )
        ]
        return f.order(f"o{n}", lines, channel=data.draw(st.sampled_from(CHANNELS)))
    if kind in ("update", "cancel"):
        key = data.draw(st.sampled_from(orders))
        order = oracle.state.orders[key]
        lines = [
            (lid, line.sku, data.draw(st.integers(1, 4)))
            for lid, line in sorted(order.lines.items())
        ]
        version = data.draw(st.integers(1, 8))
        event = "order.cancelled" if kind == "cancel" else "order.updated"
        return f.order(
            key.split(":", 1)[1], lines, channel=order.channel, version=version, event_type=event
        )
    open_lines = [
        (key, lid, line)
        for key in orders
        for lid, line in sorted(oracle.state.orders[key].lines.items())
    ]
    if kind == "ship":
        candidates = [c for c in open_lines if c[2].quantity > c[2].shipped] or open_lines
        if not candidates:
            return f.receipt(f"r{n}", sku, loc, qty)
        key, lid, line = data.draw(st.sampled_from(candidates))
        where = line.location if line.location and data.draw(st.booleans()) else loc
        amount = max(1, line.quantity - line.shipped)
        return f.shipment(
            f"s{n}",
            key.split(":", 1)[1],
            where,
            [(lid, line.sku, amount)],
            channel=key.split(":")[0],
        )
    if kind == "return":
        candidates = [c for c in open_lines if c[2].shipped > c[2].returned]
        if not candidates:
            return f.receipt(f"r{n}", sku, loc, qty)
        key, lid, line = data.draw(st.sampled_from(candidates))
        amount = data.draw(st.integers(1, line.shipped - line.returned))
        return f.return_event(
            f"rma{n}",
            key.split(":", 1)[1],
            "return.received",
            [(lid, amount, None)],
            location=loc,
            channel=key.split(":")[0],
        )
    # inspect: a received return, inspected with a disposition
    pending = [
        (rma, lid, rec)
        for (rma, lid), (rec, ins) in sorted(oracle.state.returns.items())
        if rec > ins
    ]
    if not pending:
        return f.receipt(f"r{n}", sku, loc, qty)
    rma, lid, received = data.draw(st.sampled_from(pending))
    original = next(e for e in sent if getattr(e.payload, "rma_id", None) == rma)
    disposition = data.draw(st.sampled_from(list(Disposition)))
    return f.return_event(
        rma,
        original.payload.order.external_id,
        "return.inspected",
        [(lid, received, disposition)],
        location=original.payload.location,
        channel=original.payload.order.channel,
    )  # type: ignore[union-attr]


def _check(ledger: Ledger, oracle: Oracle) -> None:
    positions = {(p.sku, p.location): p for p in ledger.positions(f.TENANT)}
    keys = set(positions) | set(oracle.state.positions)
    for key in keys:
        expected = oracle.state.positions.get(key, dict.fromkeys(BUCKETS, 0))
        got = positions.get(key)
        actual = {b: getattr(got, b) for b in BUCKETS} if got else dict.fromkeys(BUCKETS, 0)
        assert actual == expected, f"position {key}"
        assert all(v >= 0 for v in actual.values())
        if key[0] not in BACKORDER:
            assert actual["on_hand"] >= actual["allocated"], f"oversold {key}"
    journal = ledger.journal_totals()
    for (sku, loc), pos in positions.items():
        assert journal.get((f.TENANT, sku, loc), dict.fromkeys(BUCKETS, 0)) == {
            b: getattr(pos, b) for b in BUCKETS
        }
    atp = {(a.sku, a.channel): a.available for a in ledger.availability(f.TENANT)}
    expected_atp = oracle.atp()
    for key in set(atp) | set(expected_atp):
        assert atp.get(key, 0) == expected_atp.get(key, 0), f"ATP {key}"
    assert ledger.processed_count() == len(oracle.keys)


def _run_history(ledger: Ledger, data: st.DataObject) -> None:
    oracle = _fresh(ledger)
    sent: list[Envelope] = []
    n = 0
    for _ in range(data.draw(st.integers(2, 10))):
        batch = []
        for _ in range(data.draw(st.integers(1, 8))):
            n += 1
            message = _draw_message(data, oracle, sent, n)
            batch.append(message)
            sent.append(message)
        results = ledger.apply(batch)
        expected = [oracle.apply(message) for message in batch]
        assert [r.outcome for r in results] == expected, [r.reason for r in results]
        _check(ledger, oracle)


@pytest.fixture(scope="module")
def sqlite_ledger(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = str(tmp_path_factory.mktemp("model") / "ledger.sqlite3")
    Ledger.migrate(url)
    with Ledger(url, policy=POLICY) as ledger:
        yield ledger


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_model_sqlite(sqlite_ledger: Ledger, data: st.DataObject) -> None:
    _run_history(sqlite_ledger, data)


@pytest.fixture
def postgres_ledger(postgres_url: str) -> Any:
    url = as_url(postgres_url)
    Ledger.migrate(url)
    with Ledger(url, policy=POLICY) as ledger:
        yield ledger


@pytest.mark.postgres
def test_model_postgres(postgres_ledger: Ledger) -> None:
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        _run_history(postgres_ledger, data)

    run()


def test_oracle_detects_a_wrong_ledger(tmp_path: Path) -> None:
    """The check is not vacuous: a position changed behind the ledger's back is caught."""
    url = str(tmp_path / "l.sqlite3")
    Ledger.migrate(url)
    with Ledger(url, policy=POLICY) as ledger:
        oracle = _fresh(ledger)
        message = f.receipt("r1", "SKU-A", "wh_a", 3)
        assert ledger.apply([message])[0].outcome == oracle.apply(message) == "applied"
        _check(ledger, oracle)
        ledger._run(lambda work: work.db.execute("UPDATE positions SET on_hand = 2"))
        with pytest.raises(AssertionError):
            _check(ledger, oracle)
