"""``hub ingress`` and ``hub worker``: the two processes of a scaled deployment."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["admin", "ingress", "worker"]

console = Console(stderr=True, soft_wrap=True)
ConfigArgument = Annotated[Path, typer.Option("--config", "-c", help="Deployment file.")]


def _load(config: Path):  # type: ignore[no-untyped-def]
    from hub.config import DeploymentInvalidError, load_deployment

    try:
        return load_deployment(config)
    except DeploymentInvalidError as exc:
        for problem in exc.problems:
            console.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None


def ingress(
    config: ConfigArgument,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """The webhook ingress alone: verify, publish to Redis Streams, answer."""
    from hub.scale import serve_ingress
    from hub.telemetry import configure_tracing

    deployment = _load(config)
    provider = configure_tracing(deployment.telemetry, process="ingress")
    listen_host, listen_port = host or deployment.ingress.host, port or deployment.ingress.port
    console.print(f"ingress listening on http://{listen_host}:{listen_port}")
    try:
        asyncio.run(serve_ingress(deployment, host=listen_host, port=listen_port))
    finally:
        if provider is not None:
            provider.shutdown()  # flush the spans still batched


def worker(
    config: ConfigArgument,
    consumer: Annotated[str | None, typer.Option(help="Consumer name (default: host-pid).")] = None,
    ledger: Annotated[str | None, typer.Option("--ledger", help="Ledger URL.")] = None,
) -> None:
    """A routing worker: consumes the streams and applies to the ledger; run several."""
    from hub.scale import run_worker, worker_runtime
    from hub.telemetry import configure_tracing

    deployment = _load(config)
    provider = configure_tracing(deployment.telemetry, process="worker")
    runtime, client = worker_runtime(deployment, ledger_url=ledger)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(
            runtime,
            consumer=consumer,
            stop=stop,
            on_started=lambda: console.print("worker started"),
        )
        if client is not None:
            await client.aclose()

    try:
        asyncio.run(main())
    finally:
        runtime.close()
        if provider is not None:
            provider.shutdown()


def admin(
    config: ConfigArgument,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    ledger: Annotated[str | None, typer.Option("--ledger", help="Ledger URL.")] = None,
) -> None:
    """The admin API, dashboard and /metrics of a scaled deployment (beside ingress and workers)."""
    from hub.runtime import open_runtime
    from hub.serve import serve_admin
    from hub.telemetry import configure_tracing

    deployment = _load(config)
    provider = configure_tracing(deployment.telemetry, process="admin")
    runtime = open_runtime(deployment, ledger_url=ledger)
    listen_host = host or deployment.ingress.host
    console.print(f"admin API and dashboard on http://{listen_host}:{port}/dashboard")
    try:
        asyncio.run(serve_admin(runtime, host=listen_host, port=port))
    finally:
        runtime.close()
        if provider is not None:
            provider.shutdown()
