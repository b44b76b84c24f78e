"""Flash sale: a few limited SKUs sold at once on three channels, through the hub and by batch sync.

    python -m bench.flash_sale [--buyers 600] [--stock 40] [--sale-seconds 10] [--json]

The same crowd of buyers (seeded: arrival time, channel, SKU; one unit each; channels by the
simulation's mix, 52 % Shopify, 38 % WooCommerce, 10 % Amazon) meets the same stock twice:

* **hub**: in real time. Each channel (:class:`bench.flash_model.Shelves`) sells while the level it
  shows is at least one and lowers it itself; every sale goes to the embedded hub (Shopify and
  WooCommerce as signed webhooks, Amazon through the poller's store every ``--amazon-poll``
  seconds), and every level the hub pushes to a channel (:mod:`bench.shop`) replaces what that
  channel shows, when the channel receives it.
* **baseline**: a job syncs the central stock to every channel every 15 minutes
  (:func:`bench.flash_model.baseline`), the batch practice common today. Time is modelled, not
  waited for: the first sync of the sale falls ``--first-sync`` seconds in (by default a seeded
  moment of the 15 minutes), so the run takes seconds.

Oversold units are units the channels sold beyond the stock; unsold units are units left in stock
while buyers were turned away. For the hub, the ledger's own account is read back as a check: it
allocates at most the stock and backorders the rest, so its backordered units equal the oversold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from typing import Any

from bench.flash_model import Buyer, Outcome, Shelves, baseline, buyers
from bench.orders import spec
from bench.shop import CHANNELS, TENANT, Push, Shop
from simulation.orders import OrderSpec

__all__ = ["run", "run_hub"]

SYNC_INTERVAL = 15 * 60.0


async def _poll_amazon(shop: Shop, waiting: list[OrderSpec], every: float,
                       stop: asyncio.Event) -> None:  # fmt: skip
    """Hand Amazon's orders to the hub as its poller would: whatever was sold since the last poll."""
    while True:
        last = stop.is_set()
        batch, waiting[:] = list(waiting), []
        await shop.store_polled(batch)
        if last:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def run_hub(crowd: list[Buyer], stock: dict[str, int], *, amazon_poll: float,
                  seed: int) -> tuple[Outcome, dict[str, Any]]:  # fmt: skip
    """Replay the crowd in real time against the hub; the outcome and the ledger's own account."""
    async with Shop(stock, seed=seed) as shop:
        shelves = Shelves(stock, CHANNELS)

        def on_push(push: Push) -> None:
            _, channel, sku, level = push
            shelves.set(channel, sku, level)

        shop.tap.listeners.append(on_push)
        products = {p.sku: p for p in shop.catalogue.products}
        outcome = Outcome(dict(stock))
        amazon: list[OrderSpec] = []
        refused = Counter[int]()
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll_amazon(shop, amazon, amazon_poll, stop))
        sends = []

        async def deliver(order: OrderSpec) -> None:
            attempt = await shop.send(order)
            if attempt.status != 200:
                refused[attempt.status] += 1

        began = time.monotonic()
        for number, buyer in enumerate(crowd, start=1):
            await asyncio.sleep(max(0.0, began + buyer.at - time.monotonic()))
            if not shelves.sell(buyer.channel, buyer.sku):
                outcome.turned_away[buyer.sku] += 1
                continue
            outcome.sold[buyer.sku] += 1
            order = spec(buyer.channel, number, products[buyer.sku])
            if buyer.channel == "amazon_us":
                amazon.append(order)
            else:
                sends.append(asyncio.create_task(deliver(order)))
        elapsed = time.monotonic() - began
        await asyncio.gather(*sends)
        stop.set()
        await poller
        await shop.drained()
        positions = dict.fromkeys(stock, 0)
        for position in shop.runtime.ledger.positions(TENANT):
            if position.sku in positions:
                positions[position.sku] += position.allocated
        attempts = len(shop.sender.attempts) if shop.sender else 0
        shown = {ch: {sku: shelves.level(ch, sku) for sku in stock} for ch in CHANNELS}
    ledger = {
        "allocated": positions,
        "backordered_units": sum(outcome.sold[sku] - positions[sku] for sku in stock),
        "webhooks_refused": dict(refused),
        "webhook_attempts": attempts,
        "channels_show_at_end": shown,
        "sale_seconds_real": round(elapsed, 2),
    }
    return outcome, ledger


async def run(*, buyers_count: int, stock_units: int, sale_seconds: float, amazon_poll: float,
              first_sync: float | None, seed: int) -> dict[str, Any]:  # fmt: skip
    """The hub run and the baseline on the same crowd; the figures as one JSON-ready dict."""
    skus = [p.sku for p in Shop.catalogue_for(seed).flash]
    stock = dict.fromkeys(skus, stock_units)
    crowd = buyers(buyers_count, skus, sale_seconds, seed)
    sync_at = random.Random(seed).uniform(0, SYNC_INTERVAL) if first_sync is None else first_sync
    batch = baseline(crowd, stock, interval=SYNC_INTERVAL, first_sync=sync_at)
    hub, ledger = await run_hub(crowd, stock, amazon_poll=amazon_poll, seed=seed)
    demand = Counter(b.sku for b in crowd)
    return {
        "hub_oversold_units": hub.oversold_units,
        "baseline_oversold_units": batch.oversold_units,
        "hub_unsold_units": hub.unsold_units,
        "baseline_unsold_units": batch.unsold_units,
        "stock": stock,
        "demand": dict(sorted(demand.items())),
        "buyers": buyers_count,
        "sale_seconds": sale_seconds,
        "hub": {**hub.as_json(), "ledger": ledger, "amazon_poll_seconds": amazon_poll},
        "baseline": {
            **batch.as_json(),
            "sync_interval_seconds": SYNC_INTERVAL,
            "first_sync_seconds": round(sync_at, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=600)
    parser.add_argument("--stock", type=int, default=40, help="units of each flash SKU")
    parser.add_argument("--sale-seconds", type=float, default=10.0, help="buyers arrive over")
    parser.add_argument("--amazon-poll", type=float, default=1.0, help="seconds between polls")
    parser.add_argument(
        "--first-sync",
        type=float,
        default=None,
        help="baseline: seconds into the sale of its first sync (default seeded)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = asyncio.run(run(buyers_count=args.buyers, stock_units=args.stock,
                             sale_seconds=args.sale_seconds, amazon_poll=args.amazon_poll,
                             first_sync=args.first_sync, seed=args.seed))  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.buyers} buyers for {sum(result['stock'].values())} units over "
          f"{args.sale_seconds:g} s on three channels")  # fmt: skip
    for name in ("hub", "baseline"):
        print(f"{name:8}: oversold {result[f'{name}_oversold_units']} units, unsold while demand "
              f"remained {result[f'{name}_unsold_units']} units")  # fmt: skip


if __name__ == "__main__":
    main()
