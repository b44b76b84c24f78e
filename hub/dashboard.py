"""The operations dashboard at ``/dashboard``: server-rendered HTML over the admin API's data.

Operators open it in a browser during an incident, so it needs nothing to run but the hub: no build
step, no JavaScript framework, one small script that refreshes the figures every few seconds. It
signs in with an admin API token (viewer is enough), kept in an HttpOnly, same-site cookie, and
shows exactly what that token may see through the admin API: the same token check, the same tenant
scoping, the same reports (:mod:`hub.reports` behind ``GET /admin/v1/tenants/{tenant}/overview``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from hub.admin import AdminApi, AdminToken

__all__ = ["COOKIE", "dashboard_routes"]

COOKIE = "hub_dashboard_token"
REFRESH_SECONDS = 5
_templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


_templates.env.filters["percent"] = _percent
_templates.env.filters["duration"] = _duration


def _token(api: AdminApi, request: Request) -> AdminToken | None:
    secret = request.cookies.get(COOKIE)
    return api.token_for(secret) if secret else None


def _tenants(api: AdminApi, token: AdminToken, known: list[str]) -> list[str]:
    return [tenant for tenant in known if token.sees(tenant)] or sorted(
        t for t in token.tenants if t != "*"
    )


def _flow(api: AdminApi, tenant: str, order: str | None, message: str | None) -> list[Any]:
    """One order's or message's audit records, each with the time since the previous one."""
    if not order and not message:
        return []
    records = api.operations.audit_trail(tenant, message_id=message or None, order_key=order)
    flow: list[dict[str, Any]] = []
    previous = None
    for record in records:
        flow.append(
            {
                "record": record,
                "after_ms": (record.at - previous).total_seconds() * 1000 if previous else None,
            }
        )
        previous = record.at
    return flow


def dashboard_routes(
    api: AdminApi, *, tenants: Any, overview: Any, secure_cookie: bool = False
) -> list[Route]:
    """``/dashboard`` and its sign-in; ``tenants()`` lists the tenants with data, ``overview``
    is :meth:`hub.reports.Reports.overview`."""

    async def page(request: Request, *, partial: bool) -> Response:
        token = _token(api, request)
        if token is None:
            if partial:
                return Response("sign in again", status_code=401)
            return _templates.TemplateResponse(request, "dashboard_login.html", {"error": None})
        visible = _tenants(api, token, await asyncio.to_thread(tenants))
        tenant = request.query_params.get("tenant") or (visible[0] if visible else "")
        if tenant and not token.sees(tenant):
            return Response("not found", status_code=404)
        params = request.query_params
        sku, order, message = params.get("sku"), params.get("order"), params.get("message")
        report = await asyncio.to_thread(overview, tenant, sku) if tenant else None
        flow = await asyncio.to_thread(_flow, api, tenant, order, message) if tenant else []
        context = {
            "token": token,
            "tenants": visible,
            "tenant": tenant,
            "report": report,
            "order": order or "",
            "message": message or "",
            "flow": flow,
            "refresh_ms": REFRESH_SECONDS * 1000,
            "now": datetime.now(UTC),
        }
        name = "dashboard_panel.html" if partial else "dashboard.html"
        return _templates.TemplateResponse(request, name, context)

    async def full(request: Request) -> Response:
        return await page(request, partial=False)

    async def panel(request: Request) -> Response:
        return await page(request, partial=True)

    async def sign_in(request: Request) -> Response:
        # a one-field urlencoded form: the standard library parses it (no multipart dependency)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        secret = (form.get("token") or [""])[0]
        if api.token_for(secret) is None:
            return _templates.TemplateResponse(
                request,
                "dashboard_login.html",
                {"error": "That token is not valid for this hub."},
                status_code=401,
            )
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(
            COOKIE, secret, httponly=True, samesite="strict", secure=secure_cookie, path="/"
        )
        return response

    async def sign_out(_: Request) -> Response:
        response = RedirectResponse("/dashboard", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return [
        Route("/dashboard", full, methods=["GET"]),
        Route("/dashboard/panel", panel, methods=["GET"]),
        Route("/dashboard/sign-in", sign_in, methods=["POST"]),
        Route("/dashboard/sign-out", sign_out, methods=["POST"]),
    ]
