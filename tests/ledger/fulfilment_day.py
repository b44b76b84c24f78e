"""A hand-computed fulfilment day, seeded with SQL straight into the ledger's tables.

The read side (hub.fulfilment_report, the overview's KPIs, the CLI and the admin API) is tested on
exactly what the write side stores, without depending on how it gets there. Times are 2 March 2026,
UTC. Orders of tenant ``acme`` (every line stocked):

======  ==================  ===========================================================  =========
order   state               what happened                                                 perfect?
======  ==================  ===========================================================  =========
web:A   shipped             request rA (ship_by 16:00, commit_by 17:00), 2 lines, one     yes
                            tracked shipment at 15:30
web:B   partially_shipped   rB short-closed: 2 of 3 shipped at 15:00, short_ship open      no: complete, accurate
web:C   shipped             rC released for 13:00 although committed by 12:00; shipped     no: on time
                            12:30 (after commit_by)
web:D   shipped             rD (ship_by 16:00, no commit_by); shipped 16:10 without        no: on time, documents
                            tracking; missing_tracking resolved since
web:E   returned            no request; tracked shipment; return rmaE received damaged     no: undamaged
web:F   shipped             like A (rF), but held once for review                          yes, not counted in the rate
web:G   shipped             rG split: 1 unit at 15:00, the other at 17:30 (commit 18:00)   yes
web:H   cancelled           rH cancelled (released late: ship_by 19:00, commit_by 18:00)   no: complete, nothing shipped
web:I   released            rI open, released late (ship_by 21:00, commit_by 20:00)        no: complete, nothing shipped
web:J   shipped             rJ; duplicate_serial (document) and an extra item (no line)    no: accurate, documents
web:K   shipped             rK released lot L1, shipped lot L2; lot_mismatch resolved      no: accurate
======  ==================  ===========================================================  =========

Expected by hand:

* perfect-order rate: shipped-state orders A B C D E F G J K = 9; perfect and never held: A, G
  (F is perfect but was held for review) = 2/9;
* fill rate: (3 + 2 + 1 + 1 + 1 + 1 + 2 + 1 + 2) / (3 + 3 + 1 + 1 + 1 + 1 + 2 + 1 + 2) = 14/15;
* allocation accuracy: lines of closed requests rA(2) rB rC rD rF rG rJ rK = 9; in full and without
  an item exception on the same request and line, or on the request naming no line: all but
  rB/1 (short), rK/1 (lot_mismatch, although resolved) and rJ/1 (J's extra item names no line, so
  it counts against every line of rJ) = 6/9 (D's and J's document exceptions are not item
  exceptions);
* on-time release rate: requests with commit_by, not cancelled: rA rB rC rF rG rI rJ rK = 8;
  ship_by <= commit_by: all but rC and rI = 6/8 (rD has no commit_by, rH is cancelled);
* open fulfilment exceptions: short_ship 1, duplicate_serial 1, extra_item 1;
* clean-order rate: 10 of 11 orders (F was held).

Lot L1 (SKU-L; SKU-X also has a lot L1 at wh_a): received 10 at wh_a and 5 at wh_b, adjusted -1 at
wh_a; shipped 2 to web:M (sM1, serials SN-1 SN-2), 4 to web:N (sN1); shipment sP1 of web:P names
lots L2 and L1 on one line with no L1 movement (quantity unknown). Now 3 on hand at wh_a (1
committed, expired 1 March) and 5 at wh_b (expires 30 June 2099).

Tenant ``globex`` has one open exception and one request of its own, which ``acme`` never sees.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

TENANT = "acme"
OTHER = "globex"
NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)

PERFECT_ORDER_RATE = round(2 / 9, 4)
FILL_RATE = round(14 / 15, 4)
ALLOCATION_ACCURACY = round(6 / 9, 4)
ON_TIME_RELEASE_RATE = 0.75
OPEN_BY_KIND = {"duplicate_serial": 1, "extra_item": 1, "short_ship": 1}
CLEAN_ORDER_RATE = round(10 / 11, 4)

#: per order: complete, on_time, undamaged, accurate, documents
COMPONENTS: dict[str, tuple[bool, bool | None, bool, bool, bool]] = {
    "web:A": (True, True, True, True, True),
    "web:B": (False, True, True, False, True),
    "web:C": (True, False, True, True, True),
    "web:D": (True, False, True, True, False),
    "web:E": (True, True, False, True, True),
    "web:F": (True, True, True, True, True),
    "web:G": (True, True, True, True, True),
    "web:H": (False, None, True, True, True),
    "web:I": (False, None, True, True, True),
    "web:J": (True, True, True, False, False),
    "web:K": (True, True, True, False, True),
}


def t(hour: int, minute: int = 0, day: int = 2, month: int = 3, year: int = 2026) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Seeder:
    def __init__(self, db: Any) -> None:
        self.db = db

    def order(
        self,
        key: str,
        state: str,
        lines: list[tuple[str, str, int, int, int]],
        *,
        cancelled: bool = False,
        shipped_at: str | None = None,
        tenant: str = TENANT,
    ) -> None:
        self.db.execute(
            "INSERT INTO orders (tenant, order_key, channel, external_id, updated_at, state, "
            "cancelled, on_hold, released, currency, total_minor, payment_status, shipped_at, "
            "snapshot) VALUES (?, ?, 'web', ?, ?, ?, ?, 0, 1, 'USD', 1000, 'paid', ?, '{}')",
            (tenant, key, key.split(":")[1], t(9), state, int(cancelled), shipped_at),
        )
        for line_id, sku, quantity, shipped, returned in lines:
            self.db.execute(
                "INSERT INTO order_lines (tenant, order_key, line_id, sku, quantity, "
                "fulfillment_type, location, shipped, returned, status) "
                "VALUES (?, ?, ?, ?, ?, 'stocked', 'wh_a', ?, ?, 'shipped')",
                (tenant, key, line_id, sku, quantity, shipped, returned),
            )

    def request(
        self,
        request_id: str,
        key: str,
        status: str,
        lines: list[tuple[str, str, int, int, str | None]],
        *,
        ship_by: str | None,
        commit_by: str | None,
        tenant: str = TENANT,
    ) -> None:
        closed = t(18) if status in ("shipped", "short_closed", "cancelled") else None
        self.db.execute(
            "INSERT INTO fulfilment_requests (tenant, request_id, order_key, location, carrier, "
            "service_level, requested_at, ship_by, commit_by, status, closed_at, message_id) "
            "VALUES (?, ?, ?, 'wh_a', 'ups', 'standard', ?, ?, ?, ?, ?, ?)",
            (tenant, request_id, key, t(10), ship_by, commit_by, status, closed, f"m-{request_id}"),
        )
        for seq, (line_id, sku, quantity, shipped, lot) in enumerate(lines):
            self.db.execute(
                "INSERT INTO fulfilment_request_lines (tenant, request_id, seq, line_id, sku, "
                "quantity, lot, shipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (tenant, request_id, seq, line_id, sku, quantity, lot, shipped),
            )

    def shipment(
        self,
        shipment_id: str,
        key: str,
        at: str,
        tracking: list[str],
        lines: list[tuple[str | None, str, int, list[str], list[str]]],
        *,
        request_id: str | None = None,
        location: str = "wh_a",
        tenant: str = TENANT,
    ) -> None:
        self.db.execute(
            "INSERT INTO shipments (tenant, shipment_id, order_key, location, request_id, "
            "carrier, service, tracking, shipped_at, closes_request, message_id) "
            "VALUES (?, ?, ?, ?, ?, 'ups', 'ground', ?, ?, 0, ?)",
            (
                tenant,
                shipment_id,
                key,
                location,
                request_id,
                json.dumps(tracking),
                at,
                f"m-{shipment_id}",
            ),
        )
        for seq, (line_id, sku, quantity, lots, serials) in enumerate(lines):
            self.db.execute(
                "INSERT INTO shipment_lines (tenant, shipment_id, seq, line_id, sku, quantity, "
                "lots, serials) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    shipment_id,
                    seq,
                    line_id,
                    sku,
                    quantity,
                    json.dumps(lots),
                    json.dumps(serials),
                ),
            )

    def exception(
        self,
        key: str,
        kind: str,
        detail: str,
        *,
        request_id: str | None = None,
        shipment_id: str | None = None,
        line_id: str | None = None,
        sku: str | None = None,
        expected: int | None = None,
        actual: int | None = None,
        resolved: bool = False,
        tenant: str = TENANT,
    ) -> None:
        self.db.execute(
            "INSERT INTO fulfilment_exceptions (tenant, order_key, request_id, shipment_id, kind, "
            "line_id, sku, expected, actual, detail, opened_at, status, resolved_at, resolution, "
            "actor, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tenant,
                key,
                request_id,
                shipment_id,
                kind,
                line_id,
                sku,
                expected,
                actual,
                detail,
                t(16),
                "resolved" if resolved else "open",
                t(17) if resolved else None,
                "fixed by hand" if resolved else None,
                "ops@acme" if resolved else None,
                f"m-{shipment_id}",
            ),
        )

    def lot(
        self,
        sku: str,
        location: str,
        lot: str,
        on_hand: int,
        committed: int,
        expires_at: str | None,
    ) -> None:
        self.db.execute(
            "INSERT INTO lot_stock (tenant, sku, location, lot, expires_at, on_hand, committed, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (TENANT, sku, location, lot, expires_at, on_hand, committed, t(12)),
        )

    def lot_move(
        self,
        sku: str,
        location: str,
        lot: str,
        quantity: int,
        kind: str,
        at: str,
        *,
        reference: str | None = None,
        order_key: str | None = None,
        shipment_id: str | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO lot_movements (tenant, sku, location, lot, quantity, kind, reference, "
            "order_key, shipment_id, message_id, occurred_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                TENANT,
                sku,
                location,
                lot,
                quantity,
                kind,
                reference,
                order_key,
                shipment_id,
                f"m-{kind}-{lot}-{at}",
                at,
            ),
        )


def seed_day(db: Any) -> None:
    """The day of the module docstring, on a migrated ledger's connection (``ledger.db``)."""
    s = Seeder(db)
    track = "1Z999AA1012345678"
    # A: perfect
    s.order("web:A", "shipped", [("1", "SKU-A", 2, 2, 0), ("2", "SKU-B", 1, 1, 0)])
    s.request(
        "rA",
        "web:A",
        "shipped",
        [("1", "SKU-A", 2, 2, None), ("2", "SKU-B", 1, 1, None)],
        ship_by=t(16),
        commit_by=t(17),
    )
    s.shipment(
        "sA1",
        "web:A",
        t(15, 30),
        [f"{track}1"],
        [("1", "SKU-A", 2, [], []), ("2", "SKU-B", 1, [], [])],
        request_id="rA",
    )
    # B: short-closed
    s.order("web:B", "partially_shipped", [("1", "SKU-A", 3, 2, 0)])
    s.request(
        "rB",
        "web:B",
        "short_closed",
        [("1", "SKU-A", 3, 2, None)],
        ship_by=t(16),
        commit_by=t(17),
    )
    s.shipment("sB1", "web:B", t(15), [f"{track}2"], [("1", "SKU-A", 2, [], [])], request_id="rB")
    s.exception(
        "web:B",
        "short_ship",
        "request rB asked for 3 x SKU-A (line 1); 2 shipped and the node closed it",
        request_id="rB",
        shipment_id="sB1",
        line_id="1",
        sku="SKU-A",
        expected=3,
        actual=2,
    )
    # C: released for a cut-off after its commitment, shipped after it
    s.order("web:C", "shipped", [("1", "SKU-A", 1, 1, 0)])
    s.request(
        "rC", "web:C", "shipped", [("1", "SKU-A", 1, 1, None)], ship_by=t(13), commit_by=t(12)
    )
    s.shipment(
        "sC1", "web:C", t(12, 30), [f"{track}3"], [("1", "SKU-A", 1, [], [])], request_id="rC"
    )
    # D: no commit_by; after its cut-off; no tracking
    s.order("web:D", "shipped", [("1", "SKU-B", 1, 1, 0)])
    s.request("rD", "web:D", "shipped", [("1", "SKU-B", 1, 1, None)], ship_by=t(16), commit_by=None)
    s.shipment("sD1", "web:D", t(16, 10), [], [("1", "SKU-B", 1, [], [])], request_id="rD")
    s.exception(
        "web:D",
        "missing_tracking",
        "shipment sD1 (ups) has no tracking number",
        request_id="rD",
        shipment_id="sD1",
        resolved=True,
    )
    # E: never released through the hub; returned damaged
    s.order("web:E", "returned", [("1", "SKU-A", 1, 1, 1)], shipped_at=t(10))
    s.shipment("sE1", "web:E", t(10), [f"{track}5"], [("1", "SKU-A", 1, [], [])])
    db.execute(
        "INSERT INTO returns (tenant, rma_id, order_key, status, location, updated_at) "
        "VALUES (?, 'rmaE', 'web:E', 'received', 'wh_a', ?)",
        (TENANT, t(14)),
    )
    db.execute(
        "INSERT INTO return_lines (tenant, rma_id, line_id, sku, quantity, received) "
        "VALUES (?, 'rmaE', '1', 'SKU-A', 1, 1)",
        (TENANT,),
    )
    # F: perfect, but held for review once; returned for fit (not damage)
    s.order("web:F", "shipped", [("1", "SKU-A", 1, 1, 1)])
    s.request(
        "rF", "web:F", "shipped", [("1", "SKU-A", 1, 1, None)], ship_by=t(16), commit_by=t(17)
    )
    s.shipment("sF1", "web:F", t(15), [f"{track}6"], [("1", "SKU-A", 1, [], [])], request_id="rF")
    db.execute(
        "INSERT INTO returns (tenant, rma_id, order_key, status, location, updated_at) "
        "VALUES (?, 'rmaF', 'web:F', 'received', 'wh_a', ?)",
        (TENANT, t(14)),
    )
    db.execute(
        "INSERT INTO return_lines (tenant, rma_id, line_id, sku, quantity, received) "
        "VALUES (?, 'rmaF', '1', 'SKU-A', 1, 1)",
        (TENANT,),
    )
    for rma, reason in (("rmaE", "damaged"), ("rmaF", "size_or_fit")):
        db.execute(
            "INSERT INTO movements (tenant, message_id, movement_id, kind, sku, location, "
            "quantity, d_returns_pending, reason, reference, occurred_at, recorded_at) "
            "VALUES (?, ?, ?, 'return_received', 'SKU-A', 'wh_a', 1, 1, ?, ?, ?, ?)",
            (TENANT, f"m-{rma}", f"mv-{rma}", reason, f"{rma}/1", t(14), t(14)),
        )
    db.execute(
        "INSERT INTO held_messages (tenant, queue, rule, reason, idempotency_key, order_key, raw, "
        "envelope, passed_rules, held_at, due_at, status) VALUES (?, 'review', 'high_value', "
        "'total above 1500 USD', 'k-F', 'web:F', '{}', '{}', '[]', ?, ?, 'approved')",
        (TENANT, t(9), t(10)),
    )
    # G: split shipment, completed later, in time
    s.order("web:G", "shipped", [("1", "SKU-A", 2, 2, 0)])
    s.request(
        "rG", "web:G", "shipped", [("1", "SKU-A", 2, 2, None)], ship_by=t(16), commit_by=t(18)
    )
    s.shipment("sG1", "web:G", t(15), [f"{track}7"], [("1", "SKU-A", 1, [], [])], request_id="rG")
    s.shipment(
        "sG2", "web:G", t(17, 30), [f"{track}8"], [("1", "SKU-A", 1, [], [])], request_id="rG"
    )
    # H: cancelled (its late release does not count); I: released late, not shipped yet
    s.order("web:H", "cancelled", [("1", "SKU-A", 1, 0, 0)], cancelled=True)
    s.request(
        "rH", "web:H", "cancelled", [("1", "SKU-A", 1, 0, None)], ship_by=t(19), commit_by=t(18)
    )
    s.order("web:I", "released", [("1", "SKU-A", 1, 0, 0)])
    s.request("rI", "web:I", "open", [("1", "SKU-A", 1, 0, None)], ship_by=t(21), commit_by=t(20))
    # J: a serial shipped before, and an item the order does not have
    s.order("web:J", "shipped", [("1", "SKU-S", 1, 1, 0)])
    s.request(
        "rJ", "web:J", "shipped", [("1", "SKU-S", 1, 1, None)], ship_by=t(16), commit_by=t(17)
    )
    s.shipment(
        "sJ1",
        "web:J",
        t(15),
        [f"{track}9"],
        [("1", "SKU-S", 1, [], ["SN-1"]), (None, "SKU-B", 1, [], [])],
        request_id="rJ",
    )
    s.exception(
        "web:J",
        "duplicate_serial",
        "serial SN-1 of SKU-S already shipped in shipment sM1 (order web:M)",
        request_id="rJ",
        shipment_id="sJ1",
        line_id="1",
        sku="SKU-S",
    )
    s.exception(
        "web:J",
        "extra_item",
        "1 x SKU-B shipped, which order web:J has no open line for",
        request_id="rJ",
        shipment_id="sJ1",
        sku="SKU-B",
        expected=0,
        actual=1,
    )
    # K: released lot L1, shipped lot L2
    s.order("web:K", "shipped", [("1", "SKU-L", 2, 2, 0)])
    s.request(
        "rK", "web:K", "shipped", [("1", "SKU-L", 2, 2, "L1")], ship_by=t(16), commit_by=t(17)
    )
    s.shipment(
        "sK1", "web:K", t(15, 45), [f"{track}0"], [("1", "SKU-L", 2, ["L2"], [])], request_id="rK"
    )
    s.exception(
        "web:K",
        "lot_mismatch",
        "line 1 was released to pick lot L1 but shipped lot L2",
        request_id="rK",
        shipment_id="sK1",
        line_id="1",
        sku="SKU-L",
        resolved=True,
    )
    # lots: L1 of SKU-L (and of SKU-X), L2 of SKU-L
    s.lot("SKU-L", "wh_a", "L1", 3, 1, t(0, day=1))
    s.lot("SKU-L", "wh_b", "L1", 5, 0, t(0, day=30, month=6, year=2099))
    s.lot("SKU-L", "wh_a", "L2", 1, 0, None)
    s.lot("SKU-X", "wh_a", "L1", 7, 0, None)
    s.lot_move("SKU-L", "wh_a", "L1", 10, "receipt", t(8), reference="po-1")
    s.lot_move("SKU-L", "wh_b", "L1", 5, "receipt", t(8, 5), reference="po-2")
    s.lot_move("SKU-L", "wh_a", "L1", -1, "adjustment", t(9), reference="damaged in aisle")
    s.lot_move("SKU-L", "wh_a", "L2", 6, "receipt", t(8, 10), reference="po-3")
    s.lot_move("SKU-X", "wh_a", "L1", 7, "receipt", t(8, 15), reference="po-4")
    s.lot_move("SKU-L", "wh_a", "L1", -2, "shipment", t(11), order_key="web:M", shipment_id="sM1")
    s.lot_move(
        "SKU-L", "wh_a", "L1", -4, "shipment", t(11, 30), order_key="web:N", shipment_id="sN1"
    )
    s.lot_move(
        "SKU-L", "wh_a", "L2", -2, "shipment", t(15, 45), order_key="web:K", shipment_id="sK1"
    )
    s.lot_move("SKU-L", "wh_a", "L2", -3, "shipment", t(12), order_key="web:P", shipment_id="sP1")
    s.shipment("sM1", "web:M", t(11), ["1ZM"], [("1", "SKU-L", 2, ["L1"], ["SN-1", "SN-2"])])
    s.shipment("sN1", "web:N", t(11, 30), ["1ZN1", "1ZN2"], [("1", "SKU-L", 4, ["L1"], [])])
    s.shipment("sP1", "web:P", t(12), ["1ZP"], [("1", "SKU-L", 3, ["L2", "L1"], [])])
    # globex: its own exception and request, never counted for acme
    s.order("web:Z", "shipped", [("1", "SKU-A", 1, 1, 0)], tenant=OTHER)
    s.request(
        "rZ",
        "web:Z",
        "shipped",
        [("1", "SKU-A", 1, 0, None)],
        ship_by=t(23),
        commit_by=t(1),
        tenant=OTHER,
    )
    s.exception("web:Z", "short_ship", "globex's own", request_id="rZ", tenant=OTHER)
