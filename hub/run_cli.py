"""``hub run``: the whole hub in one process on the embedded default."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["run"]

console = Console(stderr=True, soft_wrap=True)


def run(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Deployment file; none serves an empty hub."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="Ledger URL (default: HUB_LEDGER_URL or the embedded file)."),
    ] = None,
) -> None:
    """Ingress, worker and metrics in one process (SQLite ledger, in-process transport)."""
    from hub.config import DeploymentInvalidError, load_deployment
    from hub.config.model import Deployment
    from hub.runtime import open_runtime
    from hub.serve import serve_embedded

    try:
        deployment = load_deployment(config) if config else Deployment()
    except DeploymentInvalidError as exc:
        for problem in exc.problems:
            console.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None
    runtime = open_runtime(deployment, ledger_url=ledger, auto_migrate=True)
    listen_host = host or deployment.ingress.host
    listen_port = port or deployment.ingress.port
    console.print(
        f"hub listening on http://{listen_host}:{listen_port} (ledger {runtime.ledger_url}); "
        "Ctrl-C to stop"
    )
    try:
        asyncio.run(serve_embedded(runtime, host=listen_host, port=listen_port))
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
