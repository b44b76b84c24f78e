"""The flash sale's accounting and its batch-sync baseline, on cases small enough to count by hand.

Pass criterion: oversold units are what the channels sold beyond the stock; unsold units are the
stock left while buyers were turned away (never more than the buyers turned away); the baseline
sells against each channel's last synced level and a sync sets every channel to what is left.
"""

from __future__ import annotations

from collections import Counter

from bench.flash_model import Buyer, Outcome, Shelves, baseline, buyers


def test_oversold_and_unsold_are_counted_against_the_stock() -> None:
    outcome = Outcome({"A": 5, "B": 5, "C": 5})
    outcome.sold.update({"A": 8, "B": 3, "C": 5})
    outcome.turned_away.update({"B": 1, "C": 4})
    assert outcome.oversold_units == 3  # A: 8 sold of 5
    assert outcome.unsold_units == 1  # B: 2 left, but only one buyer was turned away
    assert outcome.as_json()["oversold_units"] == 3


def test_a_push_replaces_what_the_channel_shows_and_a_sale_lowers_it() -> None:
    shelves = Shelves({"A": 1}, ["shop", "woo"])
    assert shelves.sell("shop", "A")
    assert not shelves.sell("shop", "A")
    assert shelves.sell("woo", "A")  # woo has not heard of shop's sale: an oversell
    shelves.set("shop", "A", 3)
    assert shelves.level("shop", "A") == 3


def test_without_a_sync_every_channel_sells_the_whole_stock() -> None:
    crowd = [Buyer(float(n), ch, "A") for n in range(4) for ch in ("shopify_us", "woo_us")]
    outcome = baseline(crowd, {"A": 2}, interval=900.0, first_sync=500.0)
    assert outcome.sold == Counter({"A": 4})  # two channels x two shown units
    assert outcome.oversold_units == 2
    assert outcome.turned_away == Counter({"A": 4})
    assert outcome.unsold_units == 0


def test_a_sync_sets_every_channel_to_what_is_left() -> None:
    crowd = [Buyer(1.0, "shopify_us", "A"), Buyer(3.0, "woo_us", "A"), Buyer(4.0, "woo_us", "A")]
    outcome = baseline(crowd, {"A": 2}, interval=900.0, first_sync=2.0)
    # after the sync at 2 s every channel shows 1; woo sells it, then turns the next buyer away
    assert outcome.sold == Counter({"A": 2})
    assert outcome.oversold_units == 0
    assert outcome.turned_away == Counter({"A": 1})


def test_the_crowd_is_seeded_and_spread_over_the_sale() -> None:
    first = buyers(50, ["A", "B"], 10.0, seed=3)
    assert first == buyers(50, ["A", "B"], 10.0, seed=3)
    assert len(first) == 50
    assert all(0 <= b.at <= 10.0 for b in first)
    assert first == sorted(first)
    assert {b.channel for b in first} <= {"shopify_us", "woo_us", "amazon_us"}
