"""Ingress throughput: signed Shopify webhooks posted concurrently to a real ``hub ingress``.

    python -m bench.ingress [--seconds 10] [--concurrency 32] [--json]

``hub ingress`` runs as its own process on Redis Streams, exactly as deployed: for each request
it reads the body under its cap, checks the media type, verifies Shopify's HMAC on the raw bytes,
parses the JSON with its nesting cap, checks the backlog for load shedding and XADDs the raw
message to its partition before answering 200. No worker runs, so nothing else competes for the
cores but the load generator: wrk (:mod:`bench.wrk`, Debian's ``wrk``) when installed, else a
Python client (:mod:`bench.httpx_load`), which costs far more CPU per request on the same cores.
It keeps ``--concurrency`` requests in flight on loopback, each on its keep-alive connection, for
``--seconds`` after a ``--warmup`` run, cycling over ``--bodies`` distinct orders (Shopify's own
payload, ~3 KB, signed as Shopify signs it).

Requests per second counts the 2xx answers of the measured run over its length; latency is from
sending a request to reading its answer, as a vendor's client sees it. The CPU the ingress process
and the generator used in the run are given as a share of one core (100 = a whole core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.httpx_load import run_httpx
from bench.orders import delivery, spec
from bench.services import REDIS_URL, ChildProcesses, free_port, redis_prefix, wait_http
from bench.shop import TENANT, Shop, deployment, fresh_secrets
from bench.wrk import available as wrk_available
from bench.wrk import run_wrk
from simulation.sender import vendor_headers

__all__ = ["run", "signed_requests"]

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


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    generator: str,
    base: str,
    requests: list[tuple[bytes, dict[str, str]]],
    *,
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    """One run of the chosen generator, in the common shape: answers, latency, its CPU."""
    if generator == "httpx":
        return asyncio.run(run_httpx(base, PATH, requests, seconds=seconds,
                                     concurrency=concurrency))  # fmt: skip
    got = run_wrk(base, PATH, requests, seconds=round(seconds), concurrency=concurrency)
    refused = got["non_2xx"]
    return {
        "accepted": got["requests"] - refused,
        "refused": refused,
        "errors": got["socket_errors"],
        "count": got["requests"] - refused,
        "p50_ms": round(got["p50_us"] / 1000, 1),
        "p99_ms": round(got["p99_us"] / 1000, 1),
        "max_ms": round(got["max_us"] / 1000, 1),
        "seconds": got["duration_us"] / 1e6,
        "cpu_seconds": got["cpu_seconds"],
    }


def run(*, seconds: float, warmup: float, concurrency: int, bodies: int, partitions: int,
        generator: str) -> dict[str, Any]:  # fmt: skip
    """Start ``hub ingress`` on a Redis prefix of this run's own, warm it, load it, clean up."""
    if generator == "auto":
        generator = "wrk" if wrk_available() else "httpx"
    environ = fresh_secrets()
    requests = signed_requests(bodies, environ["BENCH_SHOPIFY_SECRET"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryDirectory(prefix="hub-bench-") as folder,
        redis_prefix("ingress") as prefix,
        ChildProcesses(environ) as children,
    ):
        config = Path(folder) / "deploy.yaml"
        config.write_text(
            yaml.safe_dump(_deployment(prefix, port, partitions, Path(folder))), encoding="utf-8"
        )
        server = children.start(["-m", "hub", "ingress", "--config", str(config)])
        wait_http(f"{base}/healthz")
        if warmup > 0:
            _measure(generator, base, requests, seconds=warmup, concurrency=concurrency)
        cpu = _cpu_seconds(server.pid)
        figures = _measure(generator, base, requests, seconds=seconds, concurrency=concurrency)
        server_cpu = _cpu_seconds(server.pid) - cpu
    window = figures.pop("seconds")
    generator_cpu = figures.pop("cpu_seconds")
    return {
        "requests_per_s": round(figures["accepted"] / window, 1),
        **figures,
        "seconds": round(window, 3),
        "server_cpu_percent": round(100 * server_cpu / window),
        "generator_cpu_percent": round(100 * generator_cpu / window),
        "generator": generator,
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
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="load generator (auto: wrk when installed)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(seconds=args.seconds, warmup=args.warmup, concurrency=args.concurrency,
                 bodies=args.bodies, partitions=args.partitions, generator=args.generator)  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    print(f"hub ingress on Redis Streams: {result['requests_per_s']} requests/s accepted "
          f"({args.concurrency} in flight, {args.seconds:g} s); latency p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms; {result['refused']} refused, {result['errors']} errors "
          f"(generator: {result['generator']})")  # fmt: skip


if __name__ == "__main__":
    main()
