"""A load generator in Python (httpx, asyncio), for machines without wrk.

Each of the ``concurrency`` posters has its own client and keep-alive connection: one shared
httpx pool serialises its connections under concurrency and measures the client, not the server.
Even so a Python client spends far more CPU per request than wrk, on the same cores as the server,
so :mod:`bench.ingress` prefers wrk and says which generator produced its figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.stats import summary_ms

__all__ = ["run_httpx"]


async def run_httpx(
    base: str,
    path: str,
    requests: Sequence[tuple[bytes, dict[str, str]]],
    *,
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    """Keep ``concurrency`` posts in flight for ``seconds``; counts and latency of the requests
    sent and answered inside that time, and the CPU seconds this process used meanwhile."""
    latencies: list[float] = []
    answers = {"accepted": 0, "refused": 0, "errors": 0}
    cycle = itertools.cycle(requests)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30.0))
            for _ in range(concurrency)
        ]
        cpu = time.process_time()
        end = time.perf_counter() + seconds

        async def poster(client: httpx.AsyncClient) -> None:
            while (sent := time.perf_counter()) < end:
                body, headers = next(cycle)
                try:
                    response = await client.post(path, content=body, headers=headers)
                except httpx.HTTPError:
                    answers["errors"] += 1
                    continue
                if time.perf_counter() > end:
                    return
                if 200 <= response.status_code < 300:
                    answers["accepted"] += 1
                    latencies.append(time.perf_counter() - sent)
                else:
                    answers["refused"] += 1

        await asyncio.gather(*(poster(client) for client in clients))
        cpu = time.process_time() - cpu
    return {**answers, **summary_ms(latencies), "seconds": seconds, "cpu_seconds": cpu}
