"""Stripe, EasyPost, Avalara and ShipBob endpoints: refunds, labels, tax and fulfilment orders.

Stripe honours ``Idempotency-Key`` (a repeated key gets the first answer back, with
``Idempotent-Replayed: true``), as the hub relies on for refunds; EasyPost answers a shipment with
rates and a bought shipment with its label and tracker; AvaTax fails a seeded share of calls with
a 500 (a tax engine outage is a case the hub must hold, not guess); ShipBob creates (refusing a
duplicate ``reference_id`` with a 422, as ShipBob does), lists (by ``ReferenceIds``) and cancels
orders.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulation.server import World, endpoint
from simulation.vendors import avalara, easypost, shipbob, stripe

__all__ = ["routes"]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stripe_error(status: int, message: str, param: str | None = None) -> Response:
    return JSONResponse(
        {"error": {"type": "invalid_request_error", "message": message, "param": param}},
        status_code=status,
    )


def routes(world: World) -> list[Route]:
    refunds = world.remember("stripe")
    shipments = world.remember("easypost")

    async def refund_create(request: Request, body: Any) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer sk_"):
            return JSONResponse(
                {"error": {"type": "invalid_request_error",
                           "message": "Invalid API Key provided."}}, status_code=401,
            )  # fmt: skip
        form = body if isinstance(body, dict) else {}
        key = request.headers.get("idempotency-key")
        if key and key in refunds:
            return JSONResponse(refunds[key], headers={"Idempotent-Replayed": "true"})
        intent, charge = form.get("payment_intent"), form.get("charge")
        if not intent and not charge:
            return _stripe_error(400, "One of `charge` or `payment_intent` is required.")
        amount = form.get("amount", "0")
        if not str(amount).isdigit() or int(amount) <= 0:
            return _stripe_error(400, "Invalid positive integer", "amount")
        metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        refund = stripe.refund_object(
            f"re_3Sim{world.next_id():020d}", intent, charge, int(amount), int(time.time()),
            reason=form.get("reason"), metadata=metadata,
        )  # fmt: skip
        if key:
            refunds[key] = refund
        refunds[refund["id"]] = refund
        return JSONResponse(refund, headers={"Request-Id": f"req_sim{world.next_id()}"})

    async def refund_get(request: Request, body: Any) -> Response:
        refund = refunds.get(request.path_params["refund_id"])
        if refund is None:
            return _stripe_error(404, "No such refund", "id")
        return JSONResponse(refund)

    async def shipment_create(request: Request, body: Any) -> Response:
        spec = (body or {}).get("shipment") or {}
        if not spec.get("to_address") or not spec.get("parcel"):
            return JSONResponse(
                {"error": {"code": "SHIPMENT.INVALID_PARAMS",
                           "message": "Missing required parameter.", "errors": []}},
                status_code=422,
            )  # fmt: skip
        shipment_id = f"shp_sim{world.next_id():024d}"
        created = easypost.shipment(shipment_id, spec, _stamp())
        shipments[shipment_id] = created
        return JSONResponse(created, status_code=201)

    async def shipment_buy(request: Request, body: Any) -> Response:
        created = shipments.get(request.path_params["shipment_id"])
        if created is None:
            return JSONResponse(
                {"error": {"code": "NOT_FOUND", "message": "The requested resource could not be "
                           "found.", "errors": []}}, status_code=404,
            )  # fmt: skip
        if created.get("postage_label"):
            return JSONResponse(
                {"error": {"code": "SHIPMENT.POSTAGE.EXISTS",
                           "message": "Postage already exists for this shipment.", "errors": []}},
                status_code=422,
            )  # fmt: skip
        rate = ((body or {}).get("rate") or {}).get("id", "")
        bought = easypost.bought_shipment(created, rate, f"9400{world.next_id():018d}", _stamp())
        if bought is None:
            return JSONResponse(
                {"error": {"code": "SHIPMENT.RATE.INVALID", "message": "Invalid rate",
                           "errors": []}}, status_code=422,
            )  # fmt: skip
        shipments[created["id"]] = bought
        return JSONResponse(bought)

    async def tax(request: Request, body: Any) -> Response:
        _, _, fail = world.faults.draw()
        if fail:
            return JSONResponse(
                {"error": {"code": "ServerConfiguration", "message": "Internal server error.",
                           "target": "Unknown", "details": []}}, status_code=500,
            )  # fmt: skip
        model = (body or {}).get("createTransactionModel", body) or {}
        answer = avalara.transaction(model, 289_460_000 + world.next_id(), _stamp()[:-1])
        return JSONResponse(_numbers(answer), status_code=201)

    async def shipbob_order(request: Request, body: Any) -> Response:
        """``POST /1.0/order``: ``reference_id`` is required (1-300 characters) and unique: a second
        order with a reference ShipBob already has is refused with 422 "Duplicate reference ID"."""
        reference = (body or {}).get("reference_id")
        if not reference or not isinstance(reference, str) or len(reference) > 300:
            return JSONResponse(
                {"title": "One or more validation errors occurred.", "status": 400,
                 "errors": {"ReferenceId": ["The ReferenceId field is required and must be "
                                            "1 to 300 characters."]}},
                status_code=400,
            )  # fmt: skip
        if shipbob.order_of_reference(world.remember("shipbob").values(), reference) is not None:
            return JSONResponse(
                {"title": "One or more validation errors occurred.", "status": 422,
                 "errors": {"ReferenceId": [f"An order with reference id '{reference}' already "
                                            "exists."]}},
                status_code=422,
            )  # fmt: skip
        order = shipbob.created_order(200_000_000 + world.next_id(), body, _stamp())
        world.remember("shipbob")[str(order["id"])] = order
        return JSONResponse(order, status_code=201)

    async def shipbob_get(request: Request, body: Any) -> Response:
        order = world.remember("shipbob").get(request.path_params["order_id"])
        if order is None:
            return JSONResponse({"title": "Not Found", "status": 404}, status_code=404)
        return JSONResponse(order)

    async def shipbob_list(request: Request, body: Any) -> Response:
        """``GET /1.0/order``: an array of orders, filtered by ``ReferenceIds`` (comma separated)."""
        wanted = request.query_params.get("ReferenceIds")
        references = set(wanted.split(",")) if wanted else None
        listed = [
            order for order in world.remember("shipbob").values()
            if references is None or order.get("reference_id") in references
        ]  # fmt: skip
        return JSONResponse(listed)

    async def shipbob_cancel(request: Request, body: Any) -> Response:
        """``POST /1.0/order/{orderId}/cancel``: cancels an order none of whose shipments left."""
        order = world.remember("shipbob").get(request.path_params["order_id"])
        if order is None:
            return JSONResponse({"title": "Not Found", "status": 404}, status_code=404)
        answer = shipbob.cancelled_order(order)
        if answer is None:
            return JSONResponse(
                {"title": "One or more validation errors occurred.", "status": 422,
                 "errors": {"": ["Order cannot be cancelled: a shipment has already shipped."]}},
                status_code=422,
            )  # fmt: skip
        return JSONResponse(answer)

    return [
        Route("/stripe/v1/refunds", endpoint(world, "stripe", "refunds.create", refund_create),
              methods=["POST"]),
        Route("/stripe/v1/refunds/{refund_id}",
              endpoint(world, "stripe", "refunds.retrieve", refund_get), methods=["GET"]),
        Route("/easypost/v2/shipments",
              endpoint(world, "easypost", "shipments.create", shipment_create), methods=["POST"]),
        Route("/easypost/v2/shipments/{shipment_id}/buy",
              endpoint(world, "easypost", "shipments.buy", shipment_buy), methods=["POST"]),
        Route("/avalara/api/v2/transactions/create",
              endpoint(world, "avalara", "CreateTransaction", tax), methods=["POST"]),
        Route("/avalara/api/v2/transactions/createoradjust",
              endpoint(world, "avalara", "CreateOrAdjustTransaction", tax), methods=["POST"]),
        Route("/shipbob/1.0/order", endpoint(world, "shipbob", "orders.create", shipbob_order),
              methods=["POST"]),
        Route("/shipbob/1.0/order", endpoint(world, "shipbob", "orders.list", shipbob_list),
              methods=["GET"]),
        Route("/shipbob/1.0/order/{order_id}/cancel",
              endpoint(world, "shipbob", "orders.cancel", shipbob_cancel), methods=["POST"]),
        Route("/shipbob/1.0/order/{order_id}",
              endpoint(world, "shipbob", "orders.get", shipbob_get), methods=["GET"]),
    ]  # fmt: skip


def _numbers(value: Any) -> Any:
    """AvaTax amounts are JSON numbers: Decimals become floats only at the very edge."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value
