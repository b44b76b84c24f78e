"""Running the hub: the embedded single process (``hub run``) with ingress, worker and metrics.

``hub run`` serves the webhook ingress on uvicorn, drains the SQLite inbox through the router in
the same event loop, and serves ``/metrics``; SIGINT or SIGTERM stop intake first (uvicorn closes the
socket and finishes requests in flight), then the worker finishes its batch, so nothing accepted is
left half-done (and anything not finished is still in the inbox for the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.admin import AdminApi, AdminToken, DeploymentControl, admin_routes
from hub.config.secrets import resolve_reference
from hub.dashboard import dashboard_routes
from hub.fulfilment_report import FulfilmentReports
from hub.ingress import InboxSink, IngressLimits, create_ingress_app
from hub.metrics import HubCollector
from hub.outbound import replay_dead_letters, run_outbound
from hub.reports import Reports
from hub.runtime import HubRuntime, embedded_inbox_path
from router.retry import RetryPolicy
from router.transport.inbox import SqliteInbox, run_inbox_worker

__all__ = ["metrics_route", "serve_admin", "serve_embedded"]


#: An admin token for every tenant, from the environment: how a hub started with no deployment
#: file (or before any token is configured) can still be administered and its dashboard opened.
BOOTSTRAP_TOKEN_ENV = "HUB_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret


def admin_tokens(deployment: Any, environ: Any = None) -> list[AdminToken]:
    """The deployment's admin tokens with their secrets resolved (from env or files), plus the
    bootstrap token ``HUB_ADMIN_TOKEN`` when that variable is set."""
    tokens = [
        AdminToken.from_secret(
            token.name, resolve_reference(token.token, environ), token.role, token.tenants
        )
        for token in deployment.admin.tokens
    ]
    bootstrap = (os.environ if environ is None else environ).get(BOOTSTRAP_TOKEN_ENV)
    if bootstrap:
        tokens.append(AdminToken.from_secret(BOOTSTRAP_TOKEN_ENV, bootstrap, "admin", ["*"]))
    return tokens


def deployment_control(runtime: HubRuntime, environ: Any = None) -> DeploymentControl:
    """Deploy and roll back on a live runtime, recording every version in the ledger database."""
    from hub.config import validate_text
    from hub.deployments import DeploymentStore
    from hub.ledger.url import open_database

    store = DeploymentStore(open_database(runtime.ledger_url))
    switch = threading.Lock()

    def deploy(document: str, actor: str, note: str | None = None) -> tuple[Any, list[str]]:
        deployment, problems = validate_text(document, filename="deployment", environ=environ)
        if problems or deployment is None:
            return None, [str(p) for p in problems]
        with switch:
            runtime.apply_deployment(deployment, environ=environ)
            return store.record(document, deployed_by=actor, note=note), []

    def rollback(actor: str) -> Any:
        previous = store.previous()
        if previous is None:
            return None
        record, problems = deploy(
            previous.document, actor, note=f"rollback to deployment {previous.id}"
        )
        if problems:
            raise RuntimeError("; ".join(problems))
        return record

    return DeploymentControl(
        deploy=lambda d, a: deploy(d, a), rollback=rollback, history=store.history
    )


def admin_api(
    runtime: HubRuntime, environ: Any = None, *, reports: Reports | None = None
) -> AdminApi:
    """The admin API over a runtime: it reads the operations store and acts through the router."""

    async def resume(held: Any, actor: str) -> Any:
        return await runtime.router.resume(held, actor=actor)

    return AdminApi(
        deployments=deployment_control(runtime, environ),
        operations=runtime.operations,
        tokens=admin_tokens(runtime.deployment, environ),
        process=runtime.router.process,
        replay=lambda letters: replay_dead_letters(runtime, letters),
        resume=resume,
        positions=lambda tenant, sku: runtime.ledger.positions(tenant, sku=sku),
        order=lambda order_key, tenant: runtime.ledger.order(order_key, tenant=tenant),
        overview=reports.overview if reports is not None else None,
        fulfilment=FulfilmentReports(reports) if reports is not None else None,
    )


def metrics_route() -> Route:
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics, methods=["GET"])


async def serve_embedded(
    runtime: HubRuntime,
    *,
    host: str,
    port: int,
    limits: IngressLimits | None = None,
    on_started: Callable[[], Any] | None = None,
    should_exit: asyncio.Event | None = None,
    environ: Any = None,
) -> None:
    """Serve until interrupted (or until ``should_exit`` is set, for tests)."""
    inbox = SqliteInbox(embedded_inbox_path(runtime.ledger_url))
    reports = Reports(runtime.ledger_url)
    api = admin_api(runtime, environ, reports=reports)
    deployment = runtime.deployment
    limits = limits or IngressLimits(
        max_body_bytes=deployment.ingress.max_body_bytes,
        max_json_depth=deployment.ingress.max_json_depth,
    )
    app = create_ingress_app(
        runtime.receiver,
        InboxSink(inbox),
        limits=limits,
        extra_routes=[
            metrics_route(),
            *admin_routes(api),
            *dashboard_routes(api, tenants=reports.tenants, overview=reports.overview),
        ],
    )
    collector = HubCollector(runtime.operations, backlog=lambda: inbox.stats().pending)
    REGISTRY.register(collector)
    stop = asyncio.Event()
    retry = next(iter(t.retry for t in deployment.tenants.values()), None)
    worker = asyncio.create_task(
        run_inbox_worker(
            inbox,
            runtime.router.process,
            runtime.operations,
            policy=retry or RetryPolicy(),
            stop=stop,
        )
    )
    outbound = asyncio.create_task(run_outbound(runtime, stop=stop, inbound=InboxSink(inbox).put))
    try:
        await _serve_http(app, host, port, on_started, should_exit)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        with contextlib.suppress(asyncio.CancelledError):
            await outbound
        REGISTRY.unregister(collector)
        inbox.close()
        reports.close()


async def serve_admin(
    runtime: HubRuntime,
    *,
    host: str,
    port: int,
    on_started: Callable[[], Any] | None = None,
    should_exit: asyncio.Event | None = None,
    environ: Any = None,
) -> None:
    """The admin API, the dashboard and ``/metrics`` of a scaled deployment, in a process of their
    own beside ``hub ingress`` and the workers: it reads the shared ledger and operations store
    and acts (approvals, replays) through its own router on that ledger, so an operator's decision
    is applied exactly once like any message. It consumes nothing from the broker."""
    reports = Reports(runtime.ledger_url)
    api = admin_api(runtime, environ, reports=reports)
    app = Starlette(
        routes=[
            metrics_route(),
            *admin_routes(api),
            *dashboard_routes(api, tenants=reports.tenants, overview=reports.overview),
        ]
    )
    collector = HubCollector(runtime.operations)
    REGISTRY.register(collector)
    try:
        await _serve_http(app, host, port, on_started, should_exit)
    finally:
        REGISTRY.unregister(collector)
        reports.close()


async def _serve_http(
    app: Any,
    host: str,
    port: int,
    on_started: Callable[[], Any] | None,
    should_exit: asyncio.Event | None,
) -> None:
    """Serve ``app`` with uvicorn until interrupted, or until ``should_exit`` is set (tests);
    ``on_started`` is called once the server listens."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    )

    async def watch() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        if on_started is not None:
            on_started()
        if should_exit is not None:
            await should_exit.wait()
            server.should_exit = True

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()
