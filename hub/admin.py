"""The admin API: dead letters, the review and exception queues, replay, audit trails, positions.

Every request carries ``Authorization: Bearer <token>``; tokens are configured in the deployment
(``admin.tokens``, by secret reference) with a role and the tenants they may see:

* ``viewer`` reads; ``operator`` also replays and resolves dead letters and decides held messages;
  ``admin`` may do everything (deployments, when the hub serves them).
* A token never sees another tenant: asking for one it does not hold answers 404, exactly as for a
  tenant that does not exist, so a token cannot even learn which tenants exist.

The decisions (approve, reject, replay, resolve) record the token's name as the actor in the audit
log. ``GET /admin/v1/openapi.json`` describes the API (OpenAPI 3), generated from these docstrings.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator

from hub.fulfilment_report import (
    ExceptionAlreadyResolvedError,
    FulfilmentError,
    UnknownExceptionError,
)
from hub.operations import OperationsStore
from hub.operations.store import DeadLetterNotOpenError, DeadLetterRow
from router.audit import AuditRecord
from router.pipeline import RawResult
from router.ports import HeldMessage, RawMessage

__all__ = ["AdminApi", "AdminToken", "DeploymentControl", "admin_routes"]

Role = Literal["viewer", "operator", "admin"]
_RANK = {"viewer": 0, "operator": 1, "admin": 2}
PREFIX = "/admin/v1"


@dataclass(frozen=True)
class AdminToken:
    """A resolved token: its name (the actor), role, tenants, and the SHA-256 of its secret."""

    name: str
    role: Role
    tenants: frozenset[str]
    digest: bytes

    @classmethod
    def from_secret(cls, name: str, secret: str, role: Role, tenants: Sequence[str]) -> AdminToken:
        return cls(name, role, frozenset(tenants), hashlib.sha256(secret.encode()).digest())

    def sees(self, tenant: str) -> bool:
        return "*" in self.tenants or tenant in self.tenants


@dataclass
class DeploymentControl:
    """What the deployment endpoints need: deploy a document, roll back, list the history.

    ``deploy`` returns the new record, or the list of problems that refused the document.
    """

    deploy: Callable[[str, str], tuple[Any | None, list[str]]]
    rollback: Callable[[str], Any | None]
    history: Callable[[], list[Any]]


@dataclass
class AdminApi:
    """What the admin API reads and acts on; the hub passes the live pieces in."""

    operations: OperationsStore
    tokens: Sequence[AdminToken]
    process: Callable[[list[RawMessage]], Awaitable[list[RawResult]]] | None = None
    #: replays dead letters where they failed (hub.outbound.replay_dead_letters); outcomes in order
    replay: Callable[[list[DeadLetterRow]], Awaitable[list[list[str]]]] | None = None
    resume: Callable[[HeldMessage, str], Awaitable[RawResult]] | None = None
    positions: Callable[[str, str | None], list[Any]] | None = None
    order: Callable[[str, str], Mapping[str, Any] | None] | None = None
    deployments: DeploymentControl | None = None
    #: the operational picture of a tenant (hub.reports.Reports.overview), optionally for a SKU
    overview: Callable[[str, str | None], Any] | None = None
    #: fulfilment reads and exception decisions (hub.fulfilment_report.FulfilmentReports)
    fulfilment: Any | None = None

    def authenticate(self, request: Request) -> AdminToken | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return None
        return self.token_for(value)

    def token_for(self, secret: str) -> AdminToken | None:
        """The token whose secret this is, or None (also used by the dashboard's cookie)."""
        digest = hashlib.sha256(secret.strip().encode()).digest()
        found = None
        for token in self.tokens:  # compare with every token, in constant time each
            if hmac.compare_digest(token.digest, digest):
                found = token
        return found


def _error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="commerce-hub"'} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


Handler = Callable[[Request, AdminApi, AdminToken, str], Awaitable[Response]]


def _guarded(
    api: AdminApi, role: Role, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        token = api.authenticate(request)
        if token is None:
            return _error(401, "a valid bearer token is required")
        tenant = request.path_params.get("tenant", "")
        if tenant and not token.sees(tenant):
            return _error(404, "not found")
        if _RANK[token.role] < _RANK[role]:
            return _error(403, f"this needs the {role} role; the token has {token.role}")
        return await handler(request, api, token, tenant)

    endpoint.__doc__ = handler.__doc__
    return endpoint


def _record(record: AuditRecord) -> dict[str, Any]:
    return {
        "message_id": record.message_id,
        "stage": record.stage,
        "outcome": record.outcome,
        "reason": record.reason,
        "at": record.at.isoformat(),
        "actor": record.actor,
        "trace_id": record.trace_id,
        "order_key": record.order_key,
        "sequence": record.sequence or None,
    }


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(function, *args, **kwargs)


# -- handlers -------------------------------------------------------------------------------------


async def list_dead_letters(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Dead letters of a tenant (open ones unless status is given).
    responses:
      200: {description: A list of dead letters.}
    """
    status = request.query_params.get("status", "open")
    rows = await _in_thread(
        api.operations.dead_letters,
        tenant=tenant,
        status=None if status == "all" else status,
        stage=request.query_params.get("stage"),
        reason_contains=request.query_params.get("reason"),
    )
    return JSONResponse([row.as_json() for row in rows])


async def get_dead_letter(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: One dead letter with every attempt's error.
    responses:
      200: {description: The dead letter.}
      404: {description: No such dead letter for this tenant.}
    """
    row = await _in_thread(api.operations.dead_letter, int(request.path_params["id"]))
    if row is None or row.tenant != tenant:
        return _error(404, "not found")
    return JSONResponse(row.as_json())


async def replay_dead_letter(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Send a dead letter through the whole pipeline again (idempotent).
    description: A letter resolved by hand is refused (409) unless the query has force=true.
    responses:
      200: {description: The outcome of the replay.}
      404: {description: No such dead letter for this tenant.}
      409: {description: The letter was resolved by hand; pass force=true to replay it anyway.}
    """
    row = await _in_thread(api.operations.dead_letter, int(request.path_params["id"]))
    if row is None or row.tenant != tenant:
        return _error(404, "not found")
    if row.status == "resolved" and request.query_params.get("force") != "true":
        return _error(
            409,
            f"resolved by hand by {row.resolved_by}; pass force=true to replay it anyway",
        )
    if api.replay is None:
        return _error(503, "this process does not run the router; replay from a hub run or worker")
    started = datetime.now(UTC)
    [outcome] = await api.replay([row])
    await _in_thread(api.operations.mark_replayed, [row.id], since=started)
    return JSONResponse({"id": row.id, "outcome": outcome, "by": token.name})


async def resolve_dead_letter(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Close a dead letter by hand without replaying it, with a note (audited).
    description: >-
      For failures handled outside the hub. The body is JSON with a required "note" (why). The
      letter is kept with status "resolved"; the token's name is the actor of the audit record.
    responses:
      200: {description: The resolved letter.}
      400: {description: No note.}
      404: {description: No such dead letter for this tenant.}
      409: {description: Already resolved, or replayed.}
    """
    row = await _in_thread(api.operations.dead_letter, int(request.path_params["id"]))
    if row is None or row.tenant != tenant:
        return _error(404, "not found")
    note = None
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        note = body.get("note") if isinstance(body, dict) else None
    if not isinstance(note, str) or not note.strip():
        return _error(400, 'a JSON body with a "note" is required: why it is closed without replay')
    try:
        resolved = await _in_thread(api.operations.resolve, row.id, actor=token.name, note=note)
    except DeadLetterNotOpenError as exc:
        return _error(409, str(exc))
    if resolved is None:
        return _error(404, "not found")
    return JSONResponse(resolved.as_json())


async def list_held(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: Messages waiting in the review or exception queue, oldest first, with SLA ages.
    responses:
      200: {description: A list of held messages.}
    """
    rows = await _in_thread(
        api.operations.held, tenant=tenant, queue=request.query_params.get("queue")
    )
    now = datetime.now(UTC)
    return JSONResponse([row.as_json(now) for row in rows])


async def _decide(
    request: Request, api: AdminApi, token: AdminToken, tenant: str, approve: bool
) -> Response:
    row = await _in_thread(api.operations.held_item, int(request.path_params["id"]))
    if row is None or row.tenant != tenant:
        return _error(404, "not found")
    if row.status != "open":
        return _error(409, f"already decided: {row.status}")
    note = None
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        note = body.get("note") if isinstance(body, dict) else None
    if approve:
        if api.resume is None:
            return _error(503, "this process does not run the router")
        result = await api.resume(row.message, token.name)
        await _in_thread(
            api.operations.decide, row.id, status="approved", actor=token.name, note=note
        )
        return JSONResponse(
            {
                "id": row.id,
                "decision": "approved",
                "outcome": [d.value for d in result.dispositions],
            }
        )
    await _in_thread(api.operations.reject, row, actor=token.name, note=note)
    return JSONResponse({"id": row.id, "decision": "rejected"})


async def approve_held(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: Approve a held message; it resumes after the rule that stopped it.
    responses:
      200: {description: The decision and the message's outcome.}
      409: {description: Already decided.}
    """
    return await _decide(request, api, token, tenant, approve=True)


async def reject_held(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: Reject a held message; it never reaches the ledger.
    responses:
      200: {description: The decision.}
      409: {description: Already decided.}
    """
    return await _decide(request, api, token, tenant, approve=False)


async def message_audit(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: The audit trail of one message (by message id or raw id).
    responses:
      200: {description: Stage outcomes, oldest first.}
    """
    records = await _in_thread(
        api.operations.audit_trail, tenant, message_id=request.path_params["message_id"]
    )
    return JSONResponse([_record(r) for r in records])


async def order_view(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: One order's ledger state and its audit trail across systems.
    responses:
      200: {description: The order and its trail.}
      404: {description: Unknown order for this tenant.}
    """
    order_key = request.path_params["order_key"]
    records = await _in_thread(api.operations.audit_trail, tenant, order_key=order_key)
    order = await _in_thread(api.order, order_key, tenant) if api.order else None
    if order is None and not records:
        return _error(404, "not found")
    return JSONResponse(
        {"order": order, "audit": [_record(r) for r in records]}, media_type="application/json"
    )


async def positions(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: Stock positions of a tenant, optionally for one SKU.
    responses:
      200: {description: Positions per SKU and location.}
    """
    if api.positions is None:
        return _error(503, "this process has no ledger")
    rows = await _in_thread(api.positions, tenant, request.query_params.get("sku"))
    return JSONResponse(
        [
            row.model_dump(mode="json") | {"available_to_promise": row.available_to_promise}
            for row in rows
        ]
    )


async def queues(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: Depth, age and SLA breaches of the review and exception queues the token may see.
    responses:
      200: {description: One row per tenant and queue.}
    """
    depths = await _in_thread(api.operations.queue_depths)
    return JSONResponse(
        [
            {
                "tenant": d.tenant,
                "queue": d.queue,
                "open": d.open,
                "oldest_age_s": round(d.oldest_age_s, 1),
                "breaching_sla": d.breaching_sla,
            }
            for d in depths
            if token.sees(d.tenant)
        ]
    )


def _deployment_json(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "digest": record.digest,
        "deployed_by": record.deployed_by,
        "deployed_at": record.deployed_at.isoformat(),
        "note": record.note,
        "active": record.active,
    }


def _all_tenants(token: AdminToken) -> Response | None:
    if "*" not in token.tenants:
        return _error(403, "deployments concern every tenant; this token is scoped to some")
    return None


async def list_deployments(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Deployed configurations, newest first, with who deployed them and when.
    responses:
      200: {description: The deployment history.}
    """
    if api.deployments is None:
        return _error(503, "this process does not manage deployments")
    records = await _in_thread(api.deployments.history)
    return JSONResponse([_deployment_json(r) for r in records])


async def create_deployment(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Validate a deployment file (YAML body) and switch the running hub to it.
    responses:
      201: {description: Deployed.}
      422: {description: The file has problems; nothing changed.}
    """
    refused = _all_tenants(token)
    if refused is not None:
        return refused
    if api.deployments is None:
        return _error(503, "this process does not manage deployments")
    document = (await request.body()).decode("utf-8", "replace")
    record, problems = await _in_thread(api.deployments.deploy, document, token.name)
    if record is None:
        return JSONResponse(
            {"error": "the deployment file has problems", "problems": problems}, status_code=422
        )
    return JSONResponse(_deployment_json(record), status_code=201)


async def rollback_deployment(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Make the previous deployment active again (recorded as a new deployment).
    responses:
      200: {description: Rolled back.}
      409: {description: There is no previous deployment.}
    """
    refused = _all_tenants(token)
    if refused is not None:
        return refused
    if api.deployments is None:
        return _error(503, "this process does not manage deployments")
    record = await _in_thread(api.deployments.rollback, token.name)
    if record is None:
        return _error(409, "there is no previous deployment to return to")
    return JSONResponse(_deployment_json(record))


async def overview(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: The tenant's operational picture (what the dashboard shows).
    description: Orders by lifecycle state with backlog aging, fill and perfect-order rates,
      allocation accuracy and on-time release rate, open fulfilment exceptions by kind and the most
      recent ones, cancellations, review and exception queues with SLA breaches, exceptions by rule and hour,
      open dead letters, inventory by location, and one SKU's positions and per-channel
      available-to-promise (the `sku` query parameter; the first SKU when absent).
    responses:
      200: {description: The overview.}
    """
    if api.overview is None:
        return _error(503, "this process has no ledger")
    report = await _in_thread(api.overview, tenant, request.query_params.get("sku"))
    return JSONResponse(report.as_json())


async def order_fulfilment(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: One order's perfect-order status, with its fulfilment requests, shipments and exceptions.
    description: The five components (complete, on_time, undamaged, accurate, documents; on_time is
      null while nothing has shipped), `perfect` when all five are true, and `reasons`, one
      sentence for each thing that keeps the order from being perfect. `held_for_review` tells
      whether the overview's perfect-order rate leaves the order out for having been held. Each
      request carries the node's own id for it in `node_reference` (a ShipBob order, an EasyPost
      shipment) and when it was recorded, null until the node answered.
    responses:
      200: {description: The order's fulfilment status.}
      404: {description: Unknown order for this tenant.}
    """
    if api.fulfilment is None:
        return _error(503, "this process has no ledger")
    status = await _in_thread(
        api.fulfilment.perfect_order, tenant, request.path_params["order_key"]
    )
    if status is None:
        return _error(404, "not found")
    return JSONResponse(status)


async def list_fulfilment_exceptions(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Shipment reconciliation exceptions of a tenant, oldest first.
    description: "`status` is open (the default), resolved or all; `kind` is one of short_ship,
      wrong_item, extra_item, wrong_location, lot_mismatch (item exceptions) or missing_tracking,
      bad_tracking, serial_missing, lot_missing, duplicate_serial, serial_scrapped (document
      exceptions) or serial_not_shipped (a return brought back a serial the order never shipped),
      return_serial_missing (a received return of a serial-controlled SKU brought back fewer
      serials than units; `expected` units, `actual` serials) (return exceptions: `rma_id` names
      the return)."
    responses:
      200: {description: A list of exceptions.}
      400: {description: An unknown status.}
    """
    if api.fulfilment is None:
        return _error(503, "this process has no ledger")
    status = request.query_params.get("status", "open")
    if status not in ("open", "resolved", "all"):
        return _error(400, f"status must be open, resolved or all, not {status!r}")
    rows = await _in_thread(
        api.fulfilment.fulfilment_exceptions, tenant, status, request.query_params.get("kind")
    )
    return JSONResponse(rows)


async def resolve_fulfilment_exception(
    request: Request, api: AdminApi, token: AdminToken, tenant: str
) -> Response:
    """
    summary: Resolve an open fulfilment exception with a note.
    description: 'JSON body {"resolution": "what was done"}. The token''s name is recorded as
      the actor, with the time and the note.'
    responses:
      200: {description: The exception as now stored.}
      404: {description: No such exception for this tenant.}
      409: {description: Already resolved.}
      422: {description: No resolution note.}
    """
    if api.fulfilment is None:
        return _error(503, "this process has no ledger")
    resolution = ""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        if isinstance(body, dict) and isinstance(body.get("resolution"), str):
            resolution = body["resolution"]
    if not resolution.strip():
        return _error(422, 'a resolution note is required: {"resolution": "what was done"}')
    try:
        row = await _in_thread(
            api.fulfilment.resolve_exception,
            tenant,
            int(request.path_params["id"]),
            resolution,
            token.name,
        )
    except UnknownExceptionError:
        return _error(404, "not found")
    except ExceptionAlreadyResolvedError as exc:
        return _error(409, str(exc))
    except FulfilmentError as exc:
        return _error(422, str(exc))
    return JSONResponse(row)


async def lot_trace(request: Request, api: AdminApi, token: AdminToken, tenant: str) -> Response:
    """
    summary: The forward trace of a lot (optionally of one SKU, the `sku` query parameter).
    description: Where the lot is now (on hand, committed and expiry per location), how it came in
      (receipt, adjustment and count movements), and every shipment and order that received it,
      with quantities, tracking numbers and serials.
    responses:
      200: {description: The trace.}
      404: {description: The ledger knows nothing of this lot for this tenant.}
    """
    if api.fulfilment is None:
        return _error(503, "this process has no ledger")
    trace = await _in_thread(
        api.fulfilment.lot_trace,
        tenant,
        request.path_params["lot"],
        request.query_params.get("sku"),
    )
    if not trace["found"]:
        return _error(404, "not found")
    return JSONResponse(trace)


def _base_routes(routes: list[Route]) -> list[BaseRoute]:
    return list(routes)


def admin_routes(api: AdminApi) -> list[Route]:
    """The admin API's routes, to mount beside the ingress."""
    tenant = PREFIX + "/tenants/{tenant}"
    routes = [
        Route(
            f"{tenant}/dead-letters", _guarded(api, "viewer", list_dead_letters), methods=["GET"]
        ),
        Route(
            f"{tenant}/dead-letters/{{id:int}}",
            _guarded(api, "viewer", get_dead_letter),
            methods=["GET"],
        ),
        Route(
            f"{tenant}/dead-letters/{{id:int}}/replay",
            _guarded(api, "operator", replay_dead_letter),
            methods=["POST"],
        ),
        Route(
            f"{tenant}/dead-letters/{{id:int}}/resolve",
            _guarded(api, "operator", resolve_dead_letter),
            methods=["POST"],
        ),
        Route(f"{tenant}/held", _guarded(api, "viewer", list_held), methods=["GET"]),
        Route(
            f"{tenant}/held/{{id:int}}/approve",
            _guarded(api, "operator", approve_held),
            methods=["POST"],
        ),
        Route(
            f"{tenant}/held/{{id:int}}/reject",
            _guarded(api, "operator", reject_held),
            methods=["POST"],
        ),
        Route(
            f"{tenant}/messages/{{message_id}}/audit",
            _guarded(api, "viewer", message_audit),
            methods=["GET"],
        ),
        Route(
            f"{tenant}/orders/{{order_key}}", _guarded(api, "viewer", order_view), methods=["GET"]
        ),
        Route(
            f"{tenant}/orders/{{order_key}}/fulfilment",
            _guarded(api, "viewer", order_fulfilment),
            methods=["GET"],
        ),
        Route(
            f"{tenant}/fulfilment/exceptions",
            _guarded(api, "viewer", list_fulfilment_exceptions),
            methods=["GET"],
        ),
        Route(
            f"{tenant}/fulfilment/exceptions/{{id:int}}/resolve",
            _guarded(api, "operator", resolve_fulfilment_exception),
            methods=["POST"],
        ),
        Route(f"{tenant}/lots/{{lot}}", _guarded(api, "viewer", lot_trace), methods=["GET"]),
        Route(f"{tenant}/positions", _guarded(api, "viewer", positions), methods=["GET"]),
        Route(f"{tenant}/overview", _guarded(api, "viewer", overview), methods=["GET"]),
        Route(f"{PREFIX}/queues", _guarded(api, "viewer", queues), methods=["GET"]),
        Route(f"{PREFIX}/deployments", _guarded(api, "viewer", list_deployments), methods=["GET"]),
        Route(f"{PREFIX}/deployments", _guarded(api, "admin", create_deployment), methods=["POST"]),
        Route(
            f"{PREFIX}/deployments/rollback",
            _guarded(api, "admin", rollback_deployment),
            methods=["POST"],
        ),
    ]
    generator = SchemaGenerator(
        {
            "openapi": "3.0.3",
            "info": {"title": "Commerce Integration Hub admin API", "version": "1"},
        }
    )

    async def openapi(request: Request) -> Response:
        return JSONResponse(generator.get_schema(routes=_base_routes(routes)))

    return [
        *routes,
        Route(f"{PREFIX}/openapi.json", openapi, methods=["GET"], include_in_schema=False),
    ]
