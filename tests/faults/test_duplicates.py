"""Every message delivered three times, shuffled: duplicates are counted, never applied.

5,000 Shopify orders, each delivered three times under three transport ids (as a webhook retried by
Shopify and a redelivery by the broker look), shuffled, run through the real runtime (translation,
governance, the Redis fast path on the real Redis, the SQLite ledger) in batches of 500.

Pass criteria: the ledger equals the oracle (every order allocated with 2 x TSHIRT-RED-M and
1 x MUG-WHITE reserved, the positions' allocated figures are 2 x 5,000 and 5,000, on-hand is what
was received, 5,000 processed order messages); exactly 5,000 deliveries are ``applied`` and 10,000
are ``duplicate`` (counted in the results and in the audit log: at the fast path or, when the fast
path lost the race, by the ledger's unique key); and the invariant checker passes.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from pathlib import Path

from redis.asyncio import Redis

from router.idempotency import RedisFastPath
from router.pipeline import Disposition
from tests.faults.hubkit import open_hub, order_body, process_all, raw
from tests.faults.invariants import check_invariants

ORDERS = 5_000
COPIES = 3
BASE = 5_300_000_000_000
STOCK = {"TSHIRT-RED-M": 2 * ORDERS + 7, "MUG-WHITE": ORDERS + 3}


async def test_three_shuffled_copies_of_5000_orders_apply_each_once(
    tmp_path: Path, redis_url: str
) -> None:
    """Pass criteria: see the module docstring."""
    prefix = f"hub-test:{uuid.uuid4().hex[:8]}"
    client = Redis.from_url(redis_url)
    runtime = open_hub(
        str(tmp_path / "ledger.sqlite3"),
        stock=STOCK,
        fast_path=RedisFastPath(client, prefix=f"{prefix}:idem", claim_ttl=5),
    )
    try:
        bodies = [order_body(BASE + n) for n in range(ORDERS)]
        messages = [
            raw(f"o{n}-copy{copy}", "orders/create", bodies[n])
            for n in range(ORDERS)
            for copy in range(COPIES)
        ]
        random.Random(20260302).shuffle(messages)
        results = await process_all(runtime.router, messages, batch_size=500)

        final = Counter(d for result in results.values() for d in result.dispositions)
        assert final == {Disposition.APPLIED: ORDERS, Disposition.DUPLICATE: 2 * ORDERS}
        duplicates = runtime.ledger.db.query(
            "SELECT COUNT(*) FROM audit_log WHERE outcome = 'duplicate' "
            "AND stage IN ('deduplicate', 'deliver')"
        )[0][0]
        assert duplicates == 2 * ORDERS

        # the oracle: what applying each order exactly once must leave
        assert runtime.ledger.processed_count() == ORDERS + len(STOCK)
        positions = {p.sku: p for p in runtime.ledger.positions("acme")}
        assert {sku: (p.on_hand, p.allocated) for sku, p in positions.items()} == {
            "TSHIRT-RED-M": (STOCK["TSHIRT-RED-M"], 2 * ORDERS),
            "MUG-WHITE": (STOCK["MUG-WHITE"], ORDERS),
        }
        lines = runtime.ledger.db.query(
            "SELECT sku, COUNT(*), SUM(reserved), MIN(reserved), MAX(reserved) FROM order_lines "
            "GROUP BY sku ORDER BY sku"
        )
        assert lines == [
            ("MUG-WHITE", ORDERS, ORDERS, 1, 1),
            ("TSHIRT-RED-M", ORDERS, 2 * ORDERS, 2, 2),
        ]
        states = runtime.ledger.db.query("SELECT state, COUNT(*) FROM orders GROUP BY state")
        assert states == [("allocated", ORDERS)]

        report = check_invariants(
            runtime.ledger, accepted=[m.id for m in messages], direct=len(STOCK)
        )
        assert report.final == {"applied": ORDERS, "duplicate": 2 * ORDERS}
    finally:
        runtime.close()
        async with client:
            keys = [key async for key in client.scan_iter(f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
