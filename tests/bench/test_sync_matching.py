"""Which stock push told a channel about an order, in ``bench.sync_latency``.

Pass criterion: an order counts as told only by a push whose level comes from a ledger state that
includes it (the ledger's order of application decides, not the order the webhooks were sent in),
and an order the ledger never applied, or that some channel never heard of, has no latency.
"""

from __future__ import annotations

import pytest

from bench.sync_latency import SentOrder, push_latencies


def _order(channel: str, sent_at: float, key: str) -> SentOrder:
    return SentOrder("steady", channel, "A", 1, sent_at, 200, f"id-{key}", key)


def test_a_push_counts_an_order_only_once_the_ledger_applied_it() -> None:
    first, second = _order("shopify_us", 1.0, "k1"), _order("woo_us", 1.1, "k2")
    # the ledger applies the second webhook first: 10 -> 9 (k2), then 9 -> 8 (k1)
    applied = {"k2": 1.2, "k1": 1.3}
    pushes = [(1.25, ch, "A", 9) for ch in ("shopify_us", "woo_us", "amazon_us")]
    pushes += [(1.4, ch, "A", 8) for ch in ("shopify_us", "woo_us", "amazon_us")]
    got = push_latencies([first, second], pushes, {"A": 10}, applied)
    assert got[0] == {"woo_us": pytest.approx(0.4), "amazon_us": pytest.approx(0.4)}
    assert got[1] == {"shopify_us": pytest.approx(0.15), "amazon_us": pytest.approx(0.15)}


def test_no_latency_without_the_ledger_or_without_every_other_channel() -> None:
    told, untold = _order("shopify_us", 1.0, "k1"), _order("shopify_us", 1.0, "k2")
    pushes = [(1.5, "woo_us", "A", 9)]  # Amazon never hears of it
    got = push_latencies([told, untold], pushes, {"A": 10}, {"k1": 1.2})
    assert got == [None, None]


def test_a_push_sent_before_the_webhook_never_counts() -> None:
    order = _order("woo_us", 2.0, "k1")
    early = [(1.0, ch, "A", 5) for ch in ("shopify_us", "amazon_us")]
    assert push_latencies([order], early, {"A": 10}, {"k1": 2.1}) == [None]
