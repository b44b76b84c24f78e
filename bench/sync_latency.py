"""Stock sync latency: from an order webhook on one channel to the new level on every other channel.

    python -m bench.sync_latency [--rate 10] [--steady-seconds 10] [--spike 100] [--json]

The embedded hub (as ``hub run`` runs it) sits between the simulated Shopify, WooCommerce and
Amazon (:mod:`bench.shop`). Orders of one unit of a regular SKU arrive as signed webhooks from
Shopify and WooCommerce, alternately: first at a steady rate, then as a spike (all sent at once).
For each order the clock starts when its webhook is sent and stops when the last of the *other*
channels has accepted a push of that SKU at a level that counts the order (Amazon included: the
hub pushes to it although its orders arrive by polling). Overselling risk lives in exactly this
window: until every channel has been told, each still sells units that are gone.

Which push counts an order: the ledger applies orders one after another (the audit log's
``deliver`` record of each gives the order and the time, reported as ``webhook_to_ledger``), and
every level it emits for a SKU is its stock less the orders applied so far. So the level after
order k is the opening stock less every unit of that SKU applied up to and including k, and a push
at or below that level can only come from a state that includes k: the first such push each other
channel accepts after the webhook was sent is the one that told it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.orders import spec
from bench.shop import CHANNELS, TENANT, Push, Shop
from bench.stats import summary_ms
from simulation.catalogue import Catalogue

__all__ = ["SentOrder", "push_latencies", "run"]

ORIGINS = ("shopify_us", "woo_us")
DEEP_STOCK = 1_000_000


@dataclass(frozen=True)
class SentOrder:
    """One order webhook as sent: when, on which channel, what, and the hub's answer."""

    phase: str
    channel: str
    sku: str
    quantity: int
    sent_at: float  # time.time()
    status: int
    message_id: str | None
    order_key: str


def push_latencies(
    orders: Sequence[SentOrder],
    pushes: Sequence[Push],
    stock: dict[str, int],
    applied: Mapping[str, float],
    channels: Sequence[str] = CHANNELS,
) -> list[dict[str, float] | None]:
    """Per order (in the given order): seconds until each other channel got a level counting it,
    or None when the ledger never applied it or some channel was never told.

    ``applied`` is when the ledger applied each order (by order key): it gives their sequence;
    ``channels`` are those the hub pushes to.
    """
    by_target: dict[tuple[str, str], list[Push]] = defaultdict(list)
    for push in sorted(pushes):
        by_target[(push[1], push[2])].append(push)
    level_after: dict[int, int] = {}
    ordered = sorted(
        (i for i, o in enumerate(orders) if o.status == 200 and o.order_key in applied),
        key=lambda i: (applied[orders[i].order_key], orders[i].order_key),
    )
    remaining = dict(stock)
    for index in ordered:
        remaining[orders[index].sku] -= orders[index].quantity
        level_after[index] = remaining[orders[index].sku]
    result: list[dict[str, float] | None] = []
    for index, order in enumerate(orders):
        if index not in level_after:
            result.append(None)
            continue
        seen: dict[str, float] = {}
        others = [channel for channel in channels if channel != order.channel]
        for channel in others:
            for at, _, _, level in by_target[(channel, order.sku)]:
                if at >= order.sent_at and level <= level_after[index]:
                    seen[channel] = at - order.sent_at
                    break
        result.append(seen if len(seen) == len(others) else None)
    return result


async def _send_steady(shop: Shop, rng: random.Random, rate: float, seconds: float,
                       start: int) -> list[SentOrder]:  # fmt: skip
    """``rate`` orders a second for ``seconds``, each sent on its moment whatever the answers
    before it: an open loop, so a slow hub meets the same load instead of easing it."""
    count = max(1, round(rate * seconds))
    began = time.monotonic()
    tasks = []
    for n in range(count):
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(_one(shop, rng, "steady", start + n)))
    return list(await asyncio.gather(*tasks))


async def _one(shop: Shop, rng: random.Random, phase: str, number: int) -> SentOrder:
    """One order of one unit of a random regular SKU, from Shopify or WooCommerce in turn."""
    channel = ORIGINS[number % len(ORIGINS)]
    product = rng.choice(shop.catalogue.regular)
    order = spec(channel, number, product)
    attempt = await shop.send(order)
    return SentOrder(phase, channel, product.sku, 1, attempt.sent_at, attempt.status,
                     attempt.message_id, order.key)  # fmt: skip


def _deep_stock(catalogue: Catalogue) -> dict[str, int]:
    """Regular SKUs stocked so deep that no order is ever backordered: every order moves a level."""
    return {product.sku: DEEP_STOCK for product in catalogue.regular}


def _ledger_times(shop: Shop, order_keys: Sequence[str]) -> dict[str, float]:
    """When the router delivered each order to the ledger (its first ``deliver`` audit record)."""
    times = {}
    for key in order_keys:
        trail = shop.runtime.operations.audit_trail(TENANT, order_key=key)
        delivered = [r.at.timestamp() for r in trail if r.stage == "deliver"]
        if delivered:
            times[key] = min(delivered)
    return times


async def run(*, rate: float, steady_seconds: float, spike: int, seed: int = 7,
              push_to: Sequence[str] = CHANNELS) -> dict[str, Any]:  # fmt: skip
    """Both phases against one hub; the figures as one JSON-ready dict."""
    rng = random.Random(seed)
    async with Shop(_deep_stock, seed=seed, push_to=push_to) as shop:
        stock = dict(shop.stock)
        steady = await _send_steady(shop, rng, rate, steady_seconds, start=1)
        await shop.drained()
        base = len(steady) + 1
        spiked = list(await asyncio.gather(
            *(_one(shop, rng, "spike", base + n) for n in range(spike))
        ))  # fmt: skip
        await shop.drained()
        pushes = shop.tap.pushes()
        attempts = len(shop.sender.attempts) if shop.sender else 0
        in_ledger = _ledger_times(shop, [o.order_key for o in steady + spiked])
        final = {(sku, ch): shop.available(sku, ch) for sku in stock for ch in push_to}
    orders = steady + spiked
    latencies = push_latencies(orders, pushes, stock, in_ledger, push_to)
    sold: dict[str, int] = defaultdict(int)
    for order in orders:
        if order.status == 200:
            sold[order.sku] += order.quantity
    last_pushed = {(p[2], p[1]): p[3] for p in sorted(pushes)}
    consistent = all(
        final[key] == stock[key[0]] - sold[key[0]] == last_pushed.get(key, stock[key[0]])
        for key in final
    )

    def figures(phase: str | None) -> dict[str, Any]:
        chosen = [(o, lat) for o, lat in zip(orders, latencies, strict=True)
                  if phase is None or o.phase == phase]  # fmt: skip
        worst = [max(lat.values()) for _, lat in chosen if lat]
        to_ledger = [in_ledger[o.order_key] - o.sent_at for o, _ in chosen
                     if o.order_key in in_ledger]  # fmt: skip
        per_channel = {
            ch: summary_ms([lat[ch] for o, lat in chosen if lat and ch in lat]) for ch in push_to
        }
        return {
            "orders": len(chosen),
            "refused": sum(1 for o, _ in chosen if o.status != 200),
            "unmatched": sum(1 for o, lat in chosen if o.status == 200 and lat is None),
            **summary_ms(worst),
            "webhook_to_ledger": summary_ms(to_ledger),
            "per_channel": per_channel,
        }

    overall = figures(None)
    return {
        "p50_ms": overall["p50_ms"],
        "p99_ms": overall["p99_ms"],
        "max_ms": overall["max_ms"],
        "orders": overall["orders"],
        "unmatched": overall["unmatched"],
        "refused": overall["refused"],
        "steady": {"rate_per_s": rate, "seconds": steady_seconds, **figures("steady")},
        "spike": {"size": spike, **figures("spike")},
        "webhook_attempts": attempts,  # more than the orders when the ingress refused some
        "pushes": len(pushes),
        "levels_consistent": consistent,
        "push_to": list(push_to),
        "hub": "embedded (hub run: SQLite inbox and ledger, one process)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="steady orders per second")
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--spike", type=int, default=100, help="orders sent at once")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--push-to",
        nargs="+",
        choices=CHANNELS,
        default=list(CHANNELS),
        help="channels the hub pushes to (all three by default)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = asyncio.run(run(rate=args.rate, steady_seconds=args.steady_seconds,
                             spike=args.spike, seed=args.seed, push_to=args.push_to))  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    for phase in ("steady", "spike"):
        f = result[phase]
        print(f"{phase:6}: {f['orders']} orders, webhook -> every other channel p50 "
              f"{f['p50_ms']} ms, p99 {f['p99_ms']} ms, max {f['max_ms']} ms")  # fmt: skip
    print(
        f"all   : p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; "
        f"{result['unmatched']} unmatched, levels consistent: {result['levels_consistent']}"
    )


if __name__ == "__main__":
    main()
