"""Shopify, WooCommerce and Amazon SP-API endpoints: stock updates in, Amazon orders out.

Amazon's ``getOrders`` pages with an opaque ``NextToken`` (here: the base64 of the query and the
offset, so the server keeps no cursor state) and shows an order only once the simulated clock has
reached it; ``getOrderItems`` lists its items. Every authenticated call is refused with the
vendor's own error shape when its credential header is missing.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulation.orders import at_time, iso_z
from simulation.scenario import amazon_page
from simulation.server import World, endpoint
from simulation.vendors import amazon, shopify, woocommerce

__all__ = ["routes"]

AMAZON_MAX_PAGE = 100


def _stamp() -> str:
    return datetime.now(UTC).isoformat()


def _amazon_time(value: str) -> str:
    """An SP-API ISO 8601 query time as the ``...Z`` text the order headers carry."""
    return iso_z(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _amazon_denied() -> Response:
    return JSONResponse(
        {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                     "details": ""}]}, status_code=403,
    )  # fmt: skip


def _shopify_orders(
    world: World, moment: float, low: str | None, high: str | None
) -> list[dict[str, Any]]:
    """The newest version of each Shopify order existing at ``moment``, updated in [low, high],
    oldest update first (what ``orders.json?status=any&order=updated_at asc`` lists)."""
    newest: dict[int, tuple[datetime, dict[str, Any]]] = {}
    for at, order in world.shopify_orders:
        if at > moment:
            continue
        updated = datetime.fromisoformat(order["updated_at"])
        known = newest.get(order["id"])
        if known is None or updated > known[0]:
            newest[order["id"]] = (updated, order)
    start = datetime.fromisoformat(low) if low else None
    end = datetime.fromisoformat(high) if high else None
    chosen = [
        (updated, order)
        for updated, order in newest.values()
        if (start is None or updated >= start) and (end is None or updated <= end)
    ]
    return [order for _, order in sorted(chosen, key=lambda pair: (pair[0], pair[1]["id"]))]


def routes(world: World) -> list[Route]:
    levels = world.remember("shopify")
    stock = world.remember("woocommerce")
    listings = world.remember("amazon")

    async def inventory_set(request: Request, body: Any) -> Response:
        if not request.headers.get("x-shopify-access-token"):
            return JSONResponse(
                {"errors": "[API] Invalid API key or access token"}, status_code=401
            )
        try:
            item, location, available = (
                int(body["inventory_item_id"]), int(body["location_id"]), int(body["available"])
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            return JSONResponse({"errors": {"inventory_item_id": ["is required"]}}, status_code=422)
        levels[f"{item}@{location}"] = available
        answer = shopify.inventory_level(item, location, available, _stamp())
        return JSONResponse(answer, headers={"X-Shopify-Shop-Api-Call-Limit": "1/40"})

    async def variant_get(request: Request, body: Any) -> Response:
        variant_id = int(request.path_params["variant_id"])
        known = world.shopify_variants.get(variant_id)
        if known is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        item, sku, price = known
        return JSONResponse(shopify.variant(variant_id, item, sku, price))

    async def orders_list(request: Request, body: Any) -> Response:
        if not request.headers.get("x-shopify-access-token"):
            return JSONResponse(
                {"errors": "[API] Invalid API key or access token"}, status_code=401
            )
        query = request.query_params
        token = query.get("page_info")
        if token:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
        else:
            state = {
                "min": query.get("updated_at_min"),
                "max": query.get("updated_at_max"),
                "moment": world.clock(),
                "offset": 0,
            }
        state["limit"] = min(int(query.get("limit", 50)), 250)
        found = _shopify_orders(world, state["moment"], state["min"], state["max"])
        page = found[state["offset"] : state["offset"] + state["limit"]]
        headers = {"X-Shopify-Shop-Api-Call-Limit": "1/40"}
        if state["offset"] + state["limit"] < len(found):
            following = {**state, "offset": state["offset"] + state["limit"]}
            cursor = base64.urlsafe_b64encode(json.dumps(following).encode()).decode()
            url = request.url.replace(query=f"limit={state['limit']}&page_info={cursor}")
            headers["Link"] = f'<{url}>; rel="next"'
        return JSONResponse({"orders": page}, headers=headers)

    async def fulfillment_create(request: Request, body: Any) -> Response:
        fulfillment = (body or {}).get("fulfillment") or {}
        return JSONResponse(
            {"fulfillment": {**fulfillment, "id": 4_000_000_000_000 + world.next_id(),
                             "status": "success", "created_at": _stamp()}},
            status_code=201,
        )  # fmt: skip

    async def product_update(request: Request, body: Any) -> Response:
        if not request.headers.get("authorization"):
            return JSONResponse(
                {"code": "woocommerce_rest_cannot_edit",
                 "message": "Sorry, you are not allowed to edit this resource.",
                 "data": {"status": 401}}, status_code=401,
            )  # fmt: skip
        product_id = int(request.path_params["product_id"])
        quantity = (body or {}).get("stock_quantity")
        stock[str(product_id)] = quantity
        sku, title, price = world.woo_products.get(product_id, (f"P{product_id}", "", Decimal(0)))
        return JSONResponse(woocommerce.product(product_id, sku, title, price, quantity))

    async def lwa_token(request: Request, body: Any) -> Response:
        form = body if isinstance(body, dict) else {}
        if form.get("grant_type") != "refresh_token" or not form.get("refresh_token"):
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "The request has an invalid grant"},
                status_code=400,
            )
        return JSONResponse(amazon.token(world.next_id()))

    async def get_orders(request: Request, body: Any) -> Response:
        if not request.headers.get("x-amz-access-token"):
            return _amazon_denied()
        query = dict(request.query_params)
        token = query.get("NextToken")
        if token:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
        else:
            by = "updated" if query.get("LastUpdatedAfter") else "created"
            after = query.get("LastUpdatedAfter") or query.get("CreatedAfter")
            if not after or not query.get("MarketplaceIds"):
                return JSONResponse(
                    {"errors": [{"code": "InvalidInput", "message": "Either CreatedAfter or "
                                 "LastUpdatedAfter and MarketplaceIds are required", "details": ""}]},
                    status_code=400,
                )  # fmt: skip
            before = query.get("LastUpdatedBefore" if by == "updated" else "CreatedBefore")
            state = {
                "by": by,
                "after": _amazon_time(after),
                "before": _amazon_time(before) if before else "9999",
                "moment": world.clock(),
                "size": min(int(query.get("MaxResultsPerPage", AMAZON_MAX_PAGE)), AMAZON_MAX_PAGE),
                "offset": 0,
            }
        found = amazon_page(
            world.amazon_orders, state["moment"], state["after"], state["before"], by=state["by"]
        )
        page = found[state["offset"] : state["offset"] + state["size"]]
        payload: dict[str, Any] = {
            "Orders": page,
            "LastUpdatedBefore": iso_z(at_time(min(state["moment"], 86_399))),
        }
        if state["offset"] + state["size"] < len(found):
            following = {**state, "offset": state["offset"] + state["size"]}
            payload["NextToken"] = base64.urlsafe_b64encode(json.dumps(following).encode()).decode()
        return JSONResponse({"payload": payload})

    async def get_order_items(request: Request, body: Any) -> Response:
        if not request.headers.get("x-amz-access-token"):
            return _amazon_denied()
        order_id = request.path_params["order_id"]
        order = next((o for o in world.amazon_orders if o.spec.external_id == order_id), None)
        if order is None or order.at(world.clock()) is None:
            return JSONResponse(
                {"errors": [{"code": "InvalidInput", "message": "Invalid AmazonOrderId",
                             "details": ""}]}, status_code=400,
            )  # fmt: skip
        items = amazon.order_items(order.spec, world.asins)
        return JSONResponse({"payload": {"AmazonOrderId": order_id, "OrderItems": items}})

    async def patch_listing(request: Request, body: Any) -> Response:
        if not request.headers.get("x-amz-access-token"):
            return _amazon_denied()
        sku = request.path_params["sku"]
        for patch in (body or {}).get("patches", []):
            for value in patch.get("value", []):
                if isinstance(value, dict) and "quantity" in value:
                    listings[sku] = value["quantity"]
        return JSONResponse(amazon.listings_patch(sku, world.next_id()))

    shop = "/shopify/admin/api/{version}"
    woo = "/woocommerce/wp-json/wc/v3"
    return [
        Route(f"{shop}/inventory_levels/set.json",
              endpoint(world, "shopify", "inventory_levels.set", inventory_set), methods=["POST"]),
        Route(f"{shop}/variants/{{variant_id:int}}.json",
              endpoint(world, "shopify", "variants.get", variant_get), methods=["GET"]),
        Route(f"{shop}/orders.json", endpoint(world, "shopify", "orders.list", orders_list),
              methods=["GET"]),
        Route(f"{shop}/fulfillments.json",
              endpoint(world, "shopify", "fulfillments.create", fulfillment_create),
              methods=["POST"]),
        Route(f"{woo}/products/{{product_id:int}}",
              endpoint(world, "woocommerce", "products.update_stock", product_update),
              methods=["PUT"]),
        Route(f"{woo}/products/{{product_id:int}}/variations/{{variation_id:int}}",
              endpoint(world, "woocommerce", "products.update_stock", product_update),
              methods=["PUT"]),
        Route("/amazon/auth/o2/token", endpoint(world, "amazon", "lwa.token", lwa_token,
                                                limited=False), methods=["POST"]),
        Route("/amazon/orders/v0/orders", endpoint(world, "amazon", "getOrders", get_orders),
              methods=["GET"]),
        Route("/amazon/orders/v0/orders/{order_id}/orderItems",
              endpoint(world, "amazon", "getOrderItems", get_order_items), methods=["GET"]),
        Route("/amazon/listings/2021-08-01/items/{seller}/{sku}",
              endpoint(world, "amazon", "patchListingsItem", patch_listing), methods=["PATCH"]),
    ]  # fmt: skip
