"""Several worker processes reserving one SKU of limited stock on PostgreSQL at the same time."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from hub.ledger import Ledger
from tests.ledger import factory as f
from tests.ledger.conftest import as_url

WORKERS = 4
ORDERS_PER_WORKER = 8
STOCK = 10


def reserve_worker(url: str, worker: int, start_at: float, sku: str) -> list[str]:
    """One process: open its own ledger and place orders of one unit, one small batch at a time."""
    with Ledger(url) as ledger:
        time.sleep(max(0.0, start_at - time.time()))
        # every worker delivers the same receipt (same idempotency key) at the same moment
        outcomes = [r.outcome for r in ledger.apply([f.receipt("shared", "DUP", "wh_a", 7)])]
        for i in range(0, ORDERS_PER_WORKER, 2):
            batch = [f.order(f"w{worker}-{i + j}", [("l1", sku, 1)]) for j in range(2)]
            outcomes += [r.outcome for r in ledger.apply(batch)]
        return outcomes


def _race(url: str, sku: str) -> None:
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0
    with context.Pool(WORKERS) as pool:
        results = pool.starmap(reserve_worker, [(url, w, start_at, sku) for w in range(WORKERS)])
    shared = [outcomes[0] for outcomes in results]
    assert sorted(shared) == ["applied"] + ["duplicate"] * (WORKERS - 1)
    assert all(outcome == "applied" for outcomes in results for outcome in outcomes[1:])


@pytest.mark.postgres
@pytest.mark.parametrize("backorder", [False, True], ids=["refused", "backordered"])
def test_processes_never_oversell(postgres_url: str, backorder: bool) -> None:
    url = as_url(postgres_url)
    Ledger.migrate(url)
    with Ledger(url) as ledger:
        f.setup_master_data(ledger, skus=("HOT", "DUP"), backorder=("HOT",) if backorder else ())
        ledger.apply([f.receipt("r1", "HOT", "wh_a", STOCK)])
    _race(url, "HOT")
    with Ledger(url) as ledger:
        [position] = ledger.positions(f.TENANT, sku="HOT")
        demand = WORKERS * ORDERS_PER_WORKER
        statuses = [
            ledger.order(f"web:w{w}-{i}")["lines"][0]["status"]  # type: ignore[index]
            for w in range(WORKERS)
            for i in range(ORDERS_PER_WORKER)
        ]
        if backorder:
            assert position.allocated == demand
            assert statuses.count("allocated") == STOCK
            assert statuses.count("backordered") == demand - STOCK
        else:
            assert position.allocated == STOCK
            assert position.on_hand - position.allocated == 0
            assert statuses.count("allocated") == STOCK
            assert statuses.count("refused") == demand - STOCK
        journal = ledger.journal_totals()[(f.TENANT, "HOT", "wh_a")]
        assert journal["allocated"] == position.allocated
        [shared] = ledger.positions(f.TENANT, sku="DUP")
        assert shared.on_hand == 7  # applied exactly once across the processes
