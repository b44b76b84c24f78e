"""Ingress throughput: signed Shopify webhooks posted concurrently to a real ``hub ingress``.

    python -m bench.ingress [--seconds 10] [--concurrency 32] [--json]

``hub ingress`` runs as its own process on Redis Streams, exactly as deployed: for each request
it reads the body under its cap, checks the media type, verifies Shopify's HMAC on the raw bytes,
parses the JSON with its nesting cap, checks the backlog for load shedding and XADDs the raw
message to its partition before answering 200. No worker runs, so nothing else competes for the
cores but the load generator. The load generator (httpx, asyncio, in this process) keeps
``--concurrency`` requests in flight on loopback for ``--seconds`` after a warm-up, cycling over
``--bodies`` distinct orders (Shopify's own payload, signed as Shopify signs it, ~3 KB each).

Requests per second counts only 200 answers finished inside the measured window; latency is from
sending a request to reading its answer, as a vendor's client sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.orders import delivery, spec
from bench.services import REDIS_URL, ChildProcesses, free_port, redis_prefix, wait_http
from bench.shop import TENANT, Shop, deployment, fresh_secrets
from bench.stats import summary_ms
from simulation.sender import vendor_headers

__all__ = ["load", "run", "signed_requests"]

PATH = f"/webhooks/{TENANT}/shopify_us"


def _deployment(prefix: str, port: int, partitions: int, folder: Path) -> dict[str, Any]:
    """The benchmarks' business (:func:`bench.shop.deployment`) on Redis Streams; the vendors'
    APIs are never called by the ingress, so they point nowhere."""
    catalogue = Shop.catalogue_for(7)
    config = deployment(catalogue, "http://127.0.0.1:9", folder / "ledger.sqlite3", port)
    config["broker"] = {"kind": "redis", "url": REDIS_URL, "partitions": partitions,
                        "prefix": prefix}  # fmt: skip
    return config


def signed_requests(count: int, secret: str) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` distinct ``orders/create`` bodies with Shopify's headers, signed with ``secret``."""
    products = Shop.catalogue_for(7).products
    made = []
    for number in range(1, count + 1):
        webhook = delivery(spec("shopify_us", number, products[number % len(products)]))
        made.append((webhook.body, vendor_headers(webhook, secret)))
    return made


async def load(
    base: str,
    requests: list[tuple[bytes, dict[str, str]]],
    *,
    seconds: float,
    warmup: float,
    concurrency: int,
) -> dict[str, Any]:
    """Keep ``concurrency`` posts in flight for ``warmup + seconds``; figures of the last
    ``seconds`` only (requests that finished inside that window)."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    cycle = itertools.cycle(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        began = time.perf_counter()
        window_start = began + warmup
        window_end = window_start + seconds

        async def poster() -> None:
            while True:
                body, headers = next(cycle)
                sent = time.perf_counter()
                if sent >= window_end:
                    return
                try:
                    response = await client.post(PATH, content=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                done = time.perf_counter()
                if window_start <= sent and done <= window_end:
                    statuses[status] += 1
                    if status == 200:
                        latencies.append(done - sent)

        await asyncio.gather(*(poster() for _ in range(concurrency)))
    return {
        "requests_per_s": round(statuses[200] / seconds, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        **summary_ms(latencies),
    }


def run(*, seconds: float, warmup: float, concurrency: int, bodies: int,
        partitions: int) -> dict[str, Any]:  # fmt: skip
    """Start ``hub ingress`` on a Redis prefix of this run's own, load it, clean up."""
    environ = fresh_secrets()
    requests = signed_requests(bodies, environ["BENCH_SHOPIFY_SECRET"])
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="hub-bench-") as folder,
        redis_prefix("ingress") as prefix,
        ChildProcesses(environ) as children,
    ):
        config = Path(folder) / "deploy.yaml"
        config.write_text(
            yaml.safe_dump(_deployment(prefix, port, partitions, Path(folder))), encoding="utf-8"
        )
        children.start(["-m", "hub", "ingress", "--config", str(config)])
        wait_http(f"http://127.0.0.1:{port}/healthz")
        figures = asyncio.run(
            load(f"http://127.0.0.1:{port}", requests, seconds=seconds, warmup=warmup,
                 concurrency=concurrency)
        )  # fmt: skip
    return {
        **figures,
        "seconds": seconds,
        "concurrency": concurrency,
        "body_bytes": round(sum(len(b) for b, _ in requests) / len(requests)),
        "distinct_bodies": bodies,
        "transport": "redis-streams",
        "partitions": partitions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=2.0, help="not measured, before it")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--bodies", type=int, default=2000, help="distinct signed orders")
    parser.add_argument("--partitions", type=int, default=4, help="Redis stream partitions")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(seconds=args.seconds, warmup=args.warmup, concurrency=args.concurrency,
                 bodies=args.bodies, partitions=args.partitions)  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    print(f"hub ingress on Redis Streams: {result['requests_per_s']} requests/s accepted "
          f"({args.concurrency} in flight, {args.seconds:g} s); latency p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms; answers {result['statuses']}")  # fmt: skip


if __name__ == "__main__":
    main()
