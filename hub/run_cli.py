"""``hub run``: the whole hub in one process on the embedded default."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["run"]

console = Console(stderr=True, soft_wrap=True)


def _remember_deployment(runtime: Any, config: Path | None) -> None:
    """A started hub keeps what was deployed: the file given is recorded as the active version;
    with no file, the last version deployed through ``hub deploy`` is taken up again."""
    from hub.config import validate_text
    from hub.deployments import DeploymentStore
    from hub.ledger.url import open_database

    db: Any = open_database(runtime.ledger_url)
    try:
        store = DeploymentStore(db)
        active = store.active()
        if config is not None:
            document = config.read_text(encoding="utf-8")
            if active is None or active.document != document:
                store.record(document, deployed_by="hub run --config", note=str(config))
        elif active is not None:
            deployment, problems = validate_text(
                active.document, filename=f"deployment {active.id}"
            )
            if deployment is not None and not problems:
                runtime.apply_deployment(deployment)
                console.print(f"using deployment {active.id} (deployed by {active.deployed_by})")
    finally:
        db.close()


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
    from hub.telemetry import configure_tracing

    try:
        deployment = load_deployment(config) if config else Deployment()
    except DeploymentInvalidError as exc:
        for problem in exc.problems:
            console.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None
    provider = configure_tracing(deployment.telemetry, process="run")
    runtime = open_runtime(deployment, ledger_url=ledger, auto_migrate=True)
    _remember_deployment(runtime, config)
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
        if provider is not None:
            provider.shutdown()  # flush the spans still batched
