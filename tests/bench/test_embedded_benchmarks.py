"""``bench.flash_sale`` and ``bench.sync_latency`` run end to end at a tiny size.

Pass criterion: each prints one JSON object with the keys the issue names, and its figures agree
with each other (never with a speed): oversold units are what the channels sold beyond the stock,
for the hub equal to what the ledger backordered; every accepted order of the latency run is
matched to a push on every other channel, and the channels end at the ledger's level.
"""

from __future__ import annotations

from tests.bench.runner import run_bench


def test_flash_sale_counts_both_sides_from_what_was_sold() -> None:
    result = run_bench("flash_sale", "--buyers", "60", "--stock", "5", "--sale-seconds", "1")
    for key in ("hub_oversold_units", "baseline_oversold_units", "hub_unsold_units",
                "baseline_unsold_units"):  # fmt: skip
        assert isinstance(result[key], int)
        assert result[key] >= 0
    stock = result["stock"]
    assert len(stock) == 3
    for side in ("hub", "baseline"):
        sold, away = result[side]["sold"], result[side]["turned_away"]
        assert sum(sold.values()) + sum(away.values()) == result["buyers"]
        oversold = sum(max(0, sold.get(sku, 0) - units) for sku, units in stock.items())
        assert result[f"{side}_oversold_units"] == oversold
    ledger = result["hub"]["ledger"]
    assert all(ledger["allocated"][sku] <= units for sku, units in stock.items())
    assert ledger["backordered_units"] == result["hub_oversold_units"]
    assert ledger["webhooks_refused"] == {}
    # demand is four times the stock, so the stock sells out everywhere
    assert all(level == 0 for shown in ledger["channels_show_at_end"].values()
               for level in shown.values())  # fmt: skip


def test_sync_latency_matches_every_order_to_a_push_on_every_other_channel() -> None:
    result = run_bench("sync_latency", "--rate", "10", "--steady-seconds", "1", "--spike", "8")
    assert result["steady"]["orders"] == 10
    assert result["spike"]["orders"] == 8
    assert result["orders"] == 18
    assert result["refused"] == 0
    assert result["unmatched"] == 0
    assert result["levels_consistent"] is True
    assert result["p50_ms"] is not None
    assert result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    for phase in ("steady", "spike"):
        assert result[phase]["count"] == result[phase]["orders"]
        # the audit log has each order's delivery to the ledger, before its pushes
        to_ledger = result[phase]["webhook_to_ledger"]
        assert to_ledger["count"] == result[phase]["orders"]
        assert to_ledger["max_ms"] <= result[phase]["max_ms"]
        # each order is timed on the two channels it did not come from
        channels = result[phase]["per_channel"]
        assert sum(figures["count"] for figures in channels.values()) == 2 * result[phase]["orders"]


def test_sync_latency_times_only_the_channels_the_hub_pushes_to() -> None:
    result = run_bench("sync_latency", "--rate", "10", "--steady-seconds", "0.5", "--spike", "4",
                       "--push-to", "shopify_us", "woo_us")  # fmt: skip
    assert result["push_to"] == ["shopify_us", "woo_us"]
    assert result["unmatched"] == 0
    assert result["levels_consistent"] is True
    for phase in ("steady", "spike"):
        channels = result[phase]["per_channel"]
        assert set(channels) == {"shopify_us", "woo_us"}
        # a Shopify order is timed on WooCommerce and the other way round: one channel each
        assert sum(figures["count"] for figures in channels.values()) == result[phase]["orders"]
