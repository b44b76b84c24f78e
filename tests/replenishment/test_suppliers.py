"""Supplier on-time and in-full rates, and inbound delays linked to the promises they put at risk,
on the fixed procurement records of ``scenario.py`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub.ledger import Ledger
from hub.replenishment import history
from hub.replenishment.csv_import import import_procurement
from hub.replenishment.suppliers import inbound_delays, performance
from tests.replenishment import scenario
from tests.replenishment.scenario import build


def test_on_time_and_in_full_per_supplier(ledger: Ledger, tmp_path: Path) -> None:
    """acme_supply: PO-1 received 02-12 for 02-12 (on time), PO-2 02-23 for 02-19 (late),
    PO-3 02-28 for 02-26 (late): on time 1 of 3. In full: PO-1 30/30, PO-2 30/30, PO-3 20/30:
    2 of 3. beta_parts has placed 2 orders and received none: no rate rather than 0%."""
    build(ledger, tmp_path)
    orders = history.purchase_orders(ledger, scenario.TENANT, scenario.AS_OF)
    perf = performance(orders, samples=12)
    acme = perf["acme_supply"]
    assert (acme.placed, acme.received, acme.on_time, acme.in_full) == (3, 3, 1, 2)
    assert acme.on_time_rate == 1 / 3
    assert acme.in_full_rate == 2 / 3
    beta = perf["beta_parts"]
    assert (beta.placed, beta.received, beta.on_time_rate, beta.lead_time) == (2, 0, None, None)


def test_lead_time_uses_the_most_recent_received_orders(ledger: Ledger, tmp_path: Path) -> None:
    """With 2 samples: PO-2 (14 days) and PO-3 (12 days): mean 13, deviation sqrt(2) = 1.414."""
    build(ledger, tmp_path)
    orders = history.purchase_orders(ledger, scenario.TENANT, scenario.AS_OF)
    lead = performance(orders, samples=2)["acme_supply"].lead_time
    assert lead is not None
    assert (lead.mean, round(lead.deviation, 6), lead.samples) == (13.0, 1.414214, 2)


def test_records_after_as_of_are_not_seen(ledger: Ledger, tmp_path: Path) -> None:
    """As of 02-25, PO-3 (received 02-28) has no receipt yet and PO-4/PO-5 (placed in March) do
    not exist: 2 received orders, PO-1 on time and PO-2 late, both in full."""
    build(ledger, tmp_path)
    as_of = datetime(2026, 2, 25, tzinfo=UTC)
    orders = history.purchase_orders(ledger, scenario.TENANT, as_of)
    assert [po.po_number for po in orders] == ["PO-1", "PO-2", "PO-3"]
    acme = performance(orders, samples=12)["acme_supply"]
    assert (acme.received, acme.on_time, acme.in_full) == (2, 1, 2)


def test_inbound_delays_are_linked_to_the_orders_at_risk(ledger: Ledger, tmp_path: Path) -> None:
    """PO-3 left 10 SKU-A short at wh_a: at risk are the SKU-A orders still allocated there
    (03-14's 2 and 03-15's 6; the shipped ones are not). PO-4's notice moves SKU-B at wh_b from
    03-12 to 03-18 (6 days): at risk is B1, allocated at wh_b, promised by 03-17 - not B2, which
    waits at wh_a. PO-5 to wh_a expected 03-13 has nothing received or announced by 03-16
    (3 days overdue): at risk is B2, backordered at wh_a."""
    build(ledger, tmp_path)
    orders = history.purchase_orders(ledger, scenario.TENANT, scenario.AS_OF)
    open_lines = history.open_order_lines(ledger, scenario.TENANT)
    delays = {d.po_number: d for d in inbound_delays(orders, open_lines, scenario.AS_OF)}
    assert set(delays) == {"PO-3", "PO-4", "PO-5"}
    short = delays["PO-3"]
    assert (short.kind, short.sku, short.location, short.outstanding) == (
        "short_receipt",
        "SKU-A",
        "wh_a",
        10,
    )
    assert [(o.order_key, o.outstanding, o.status) for o in short.at_risk] == [
        ("web:A-2026-03-14", 2, "allocated"),
        ("web:A-2026-03-15", 6, "allocated"),
    ]
    late = delays["PO-4"]
    assert (late.kind, late.days_late, late.now_expected_at) == (
        "late_notice",
        6,
        datetime(2026, 3, 18, tzinfo=UTC),
    )
    assert [(o.order_key, o.status, o.promised_by) for o in late.at_risk] == [
        ("web:B1", "allocated", "2026-03-17T00:00:00Z")
    ]
    overdue = delays["PO-5"]
    assert (overdue.kind, overdue.days_late, overdue.location) == ("overdue", 3, "wh_a")
    assert [(o.order_key, o.status) for o in overdue.at_risk] == [("web:B2", "backordered")]


def test_a_delay_clears_once_the_goods_arrive(ledger: Ledger, tmp_path: Path) -> None:
    """Receiving PO-4's 10 and PO-3's missing 10 leaves only PO-5 overdue."""
    build(ledger, tmp_path)
    more = (
        "record,tenant,document,po_number,location,sku,quantity,date\n"
        "receipt,acme,R-4,PO-4,wh_b,SKU-B,10,2026-03-15\n"
        "receipt,acme,R-3b,PO-3,wh_a,SKU-A,10,2026-03-15\n"
    )
    assert import_procurement(ledger, scenario.write_csv(tmp_path, more, "more.csv")).applied == 2
    orders = history.purchase_orders(ledger, scenario.TENANT, scenario.AS_OF)
    delays = inbound_delays(
        orders, history.open_order_lines(ledger, scenario.TENANT), scenario.AS_OF
    )
    assert [(d.po_number, d.kind) for d in delays] == [("PO-5", "overdue")]
    perf = performance(orders, samples=12)
    assert perf["acme_supply"].in_full == 3  # PO-3 is now complete
    assert perf["beta_parts"].on_time == 0  # PO-4 arrived 03-15 for 03-12
