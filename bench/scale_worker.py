"""One worker process of ``bench.scale``: ``hub worker``, held at the start line.

    python -m bench.scale_worker --config FILE --consumer w1

The same code as ``hub worker`` (:func:`hub.scale.worker_runtime` and :func:`hub.scale.run_worker`:
FastStream consumers on every partition, the Redis fast path, the PostgreSQL ledger, the outbox
relay election) with one difference, the one ``bench.throughput`` makes too: raw bodies are
canonical envelopes already (:mod:`bench.workload`), so translation is ``Envelope`` parsing instead
of a vendor connector. It prints ``ready`` once its runtime is open and starts consuming when a
line arrives on stdin, so that every worker of a run starts together and process start-up (imports,
connections) is not timed. SIGTERM stops it as it stops ``hub worker``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from canonical import Envelope
from router.ports import RawMessage

__all__ = ["CanonicalTranslator", "main"]


class CanonicalTranslator:
    """Raw bodies are canonical envelopes already: parsing and validating them is the translation."""

    def translate(self, raw: RawMessage) -> list[Envelope]:
        return [Envelope.model_validate_json(raw.body)]


async def _serve(config: Path, consumer: str) -> None:
    """Open the runtime, report ready, wait for the start line, then work until SIGTERM."""
    from hub.config import load_deployment
    from hub.scale import run_worker, worker_runtime

    runtime, client = worker_runtime(load_deployment(config))
    runtime.router.reconfigure(translator=CanonicalTranslator())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print("ready", flush=True)
        if not await asyncio.to_thread(sys.stdin.readline):
            return  # stdin closed before the start: the run was called off
        await run_worker(runtime, consumer=consumer, stop=stop)
    finally:
        if client is not None:
            await client.aclose()
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--consumer", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.config, args.consumer))


if __name__ == "__main__":
    main()
