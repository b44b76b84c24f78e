"""ShipBob 3PL connector: fulfilment orders out, shipment webhooks in.

ShipBob webhooks are signed with the Standard Webhooks scheme (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``). **Unconfirmed from a ShipBob primary source** (see
docs/connector-authoring.md, "Open questions"): the scheme is taken from a third-party integration
guide and must be checked against developer.shipbob.com before production use.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from canonical.envelope import Envelope
from canonical.fulfillment import FulfillmentCancellation, FulfillmentRequest
from connectors.base import Connector, load_payload
from connectors.errors import RequestRejected, TooLateToCancel
from connectors.pagination import JsonPathPaginator, TimeWindow, paginate
from connectors.polling import PollSpec
from connectors.secrets import reveal
from connectors.shipbob import mapping
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec, TranslationContext
from connectors.webhooks import StandardWebhooksVerifier

__all__ = ["ShipBobConfig", "ShipBobConnector"]

#: Inventory levels of every item, grouped by fulfilment centre (cursor-paged, ``next``).
INVENTORY_LEVELS = "/2026-01/inventory-level/locations"


class ShipBobConfig(ConnectorConfig):
    access_token: SecretStr = Field(description="Personal access token or OAuth access token.")
    channel_id: Annotated[str, Field(pattern=r"^\d+$")] = Field(
        description="The ShipBob channel the hub's orders belong to (shipbob_channel_id header)."
    )
    webhook_secrets: Annotated[list[SecretStr], Field(min_length=1, max_length=3)] = Field(
        description="Webhook signing secret(s), whsec_<base64>."
    )
    page_size: Annotated[int, Field(ge=1, le=250)] = Field(
        default=100, description="Inventory items per page when polling inventory levels."
    )
    api_base: ApiBase = Field(
        default="https://api.shipbob.com",
        description="ShipBob API origin; paths such as /1.0/order are kept. "
        "Override it for a sandbox or a local simulator.",
    )


class ShipBobConnector(Connector):
    name: ClassVar[str] = "shipbob"
    kind: ClassVar[ConnectorKind] = ConnectorKind.THREE_PL
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = ShipBobConfig
    events: ClassVar[dict[str, EventSpec]] = {
        "order_shipped": EventSpec(
            "order_shipped", mapping.to_canonical_shipment, ("shipment.created",)
        ),
        "order.shipped": EventSpec(
            "order.shipped", mapping.to_canonical_shipment, ("shipment.created",)
        ),
        **{
            name: EventSpec(name, translate, ("tracking.updated",))
            for name, translate in mapping.to_canonical_tracking.items()
        },
        "inventory_levels": EventSpec(
            "inventory_levels",
            mapping.translate_inventory_levels,
            ("stock.counted",),
            source="poll",
            description=f"A page of GET {INVENTORY_LEVELS}, stamped with counted_at",
        ),
    }
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested", "fulfillment.cancelled")
    webhook_verifier = StandardWebhooksVerifier(tolerance=300)
    webhook_topic_header = "x-webhook-topic"  # unconfirmed, like the signature scheme

    config: ShipBobConfig

    def base_url(self) -> str:
        return self.config.api_base

    def default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {reveal(self.config.access_token)}",
            "shipbob_channel_id": self.config.channel_id,
        }

    def create_fulfillment_order(self, request: FulfillmentRequest) -> str:
        """Create the ShipBob order for ``request``; returns ShipBob's order id.

        Idempotent: the order's ``reference_id`` is the request's own (:func:`mapping.order_reference`)
        and ShipBob refuses a second order with a ``reference_id`` it already has (422, "Duplicate
        reference ID"). So when a create is refused with a 422, the order of that reference is
        looked up (``GET /1.0/order?ReferenceIds=``) and, when it was created for this request (its
        ``hub_request_id`` tag), its id is the answer: the first create arrived but its answer was
        lost, and the HTTP client or the outbound relay tried again. The lookup is made only on a
        conflict rather than before every create: a release costs one call, not two, and ShipBob's
        uniqueness check is what stops a second order either way (a lookup first could still race
        a create whose answer is in flight).
        """
        try:
            return self.post_order(request)
        except RequestRejected as refused:
            if refused.status_code != 422:
                raise
            existing = self._existing_order(request, refused)
            if existing is None:
                raise
            return existing

    def post_order(self, request: FulfillmentRequest) -> str:
        """``POST /1.0/order`` for ``request`` alone (no look-up on a conflict): ShipBob's order id.
        The conformance kit checks this call's retries and error types."""
        response = self.http.request(
            "POST",
            "/1.0/order",
            operation="orders.create",
            json=mapping.from_canonical_fulfillment_request(request),
        )
        body: Any = load_payload(response.content)
        return str(body["id"])

    def _existing_order(self, request: FulfillmentRequest, refused: RequestRejected) -> str | None:
        """The id of the ShipBob order already created for ``request`` (a create ShipBob refused
        as a duplicate); None when it has no order of that reference (the 422 was about something
        else). An order of that reference made for another request, or cancelled since, is not
        this request's order: :class:`RequestRejected` saying so."""
        reference = mapping.order_reference(request.request_id)
        found = [
            order for order in self.find_orders(reference) if order.get("reference_id") == reference
        ]
        if not found:
            return None
        ours = [order for order in found if mapping.order_request_id(order) == request.request_id]
        if not ours:
            raise RequestRejected(
                f"request {request.request_id}: ShipBob refused the order (HTTP 422) because its "
                f"reference {reference} is taken by ShipBob order {found[0].get('id')}, which the "
                "hub did not create for this request",
                status_code=refused.status_code,
                connector=self.name,
                operation="orders.create",
            ) from None
        live = [order for order in ours if order.get("status") != "Cancelled"]
        if not live:
            raise RequestRejected(
                f"request {request.request_id}: ShipBob order {ours[0].get('id')} (reference "
                f"{reference}) was created for this request and has been cancelled since; "
                "release the order again (a new request) to ship it",
                status_code=refused.status_code,
                connector=self.name,
                operation="orders.create",
            ) from None
        return str(live[0]["id"])

    def request_fulfillment(self, request: FulfillmentRequest) -> str:
        """The hub's release of an order to this ShipBob account: a ShipBob order of its own."""
        return self.create_fulfillment_order(request)

    def find_orders(self, reference_id: str) -> list[Any]:
        """The ShipBob orders whose ``reference_id`` is ``reference_id`` (a request's reference, or
        an order key for orders created before request ids were sent): ``GET
        /1.0/order?ReferenceIds=...``, which answers a JSON array of ``Order``."""
        response = self.http.request(
            "GET", "/1.0/order", operation="orders.list", params={"ReferenceIds": reference_id}
        )
        listed: Any = load_payload(response.content)
        return (
            [order for order in listed if isinstance(order, dict)]
            if isinstance(listed, list)
            else []
        )

    def cancel_fulfillment(self, cancellation: FulfillmentCancellation) -> str:
        """Cancel the ShipBob order created for the request: found by its ``reference_id`` (the
        request's, :func:`mapping.order_reference`; else the order key, which orders created
        before request ids were sent carry) and its ``hub_request_id`` tag, then ``POST
        /1.0/order/{id}/cancel``.

        No such order: nothing to cancel. Already ``Cancelled``: nothing to do (a replay). A
        shipment of it already ``Completed``, a cancel ShipBob refuses, or a shipment it could not
        cancel: :class:`TooLateToCancel` naming the order and what to do instead.
        """
        request_id, key = cancellation.request_id, cancellation.order.key
        reference = mapping.order_reference(request_id)
        ours: list[dict[str, Any]] = []
        for looked_up in (reference, key):
            ours = [
                order
                for order in self.find_orders(looked_up)
                if mapping.order_request_id(order) == request_id
            ]
            if ours:
                break
        if not ours:
            return (
                f"no ShipBob order has reference {reference} or {key} and request {request_id}; "
                "nothing to cancel"
            )
        return "; ".join(self._cancel_order(order, cancellation) for order in ours)

    def cancel_order(self, order_id: str) -> Any:
        """``POST /1.0/order/{order_id}/cancel``: ShipBob's answer (``order_id``, ``status``,
        ``canceled_shipment_results``)."""
        response = self.http.request(
            "POST", f"/1.0/order/{order_id}/cancel", operation="orders.cancel"
        )
        return load_payload(response.content) if response.content else {}

    def _cancel_order(self, order: dict[str, Any], cancellation: FulfillmentCancellation) -> str:
        order_id = str(order.get("id"))
        reference = order.get("reference_id") or cancellation.order.key
        where = (
            f"request {cancellation.request_id}: ShipBob order {order_id} (reference {reference})"
        )
        if order.get("status") == "Cancelled":
            return f"ShipBob order {order_id} was already cancelled"
        shipped = mapping.shipped_shipments(order)
        if shipped:
            raise TooLateToCancel(
                f"{where} has already shipped ({_shipments_text(shipped)}) and cannot be "
                "cancelled. Ask the carrier to intercept the parcel (return to sender), or book "
                "it as a return when it comes back",
                connector=self.name,
                operation="orders.cancel",
            )
        try:
            body = self.cancel_order(order_id)
        except RequestRejected as refused:
            raise TooLateToCancel(
                f"{where}: ShipBob refused to cancel it (HTTP {refused.status_code}); it is "
                "probably being picked or packed. Cancel it in ShipBob's dashboard if it still "
                "can be, else have the carrier intercept the parcel (return to sender)",
                status_code=refused.status_code,
                connector=self.name,
                operation="orders.cancel",
            ) from None
        results = body.get("canceled_shipment_results") if isinstance(body, dict) else None
        failed = [
            result
            for result in (results if isinstance(results, list) else [])
            if isinstance(result, dict) and result.get("is_success") is False
        ]
        if failed:
            reasons = "; ".join(
                f"shipment {r.get('shipment_id')}: {r.get('reason') or 'no reason given'}"
                for r in failed
            )
            raise TooLateToCancel(
                f"{where}: ShipBob could not cancel every shipment ({reasons}). Stop those "
                "shipments in ShipBob's dashboard, or have the carrier intercept the parcel",
                connector=self.name,
                operation="orders.cancel",
            )
        return f"cancelled ShipBob order {order_id}"

    def iter_inventory_levels(self) -> Iterator[Any]:
        """Every page of inventory levels by fulfilment centre, each stamped with ``counted_at``.

        The first request asks for ``PageSize``; later ones send only ``Cursor`` (taken from the
        page's ``next``), which ShipBob documents as overriding every other parameter.
        ``counted_at`` is the ``Date`` header of ShipBob's response (the hub's clock only when a
        response has none), so the snapshot is dated by the vendor that took it.
        """

        def fetch(cursor: str | None) -> httpx.Response:
            params = {"Cursor": cursor} if cursor else {"PageSize": self.config.page_size}
            return self.http.request(
                "GET", INVENTORY_LEVELS, operation="inventory_levels.list", params=params
            )

        for response in paginate(fetch, JsonPathPaginator(("next",), param="Cursor")):
            page = load_payload(response.content)
            yield {**page, "counted_at": _response_time(response).isoformat()}

    @classmethod
    def poll_specs(cls) -> dict[str, PollSpec]:
        return {
            **super().poll_specs(),
            "inventory": PollSpec(
                "inventory",
                "inventory_levels",
                windowed=False,
                description="every fulfilment centre's inventory levels now, as stock counts",
            ),
        }

    def poll(self, name: str, window: TimeWindow | None) -> Iterator[Any]:
        if name == "inventory":
            return self.iter_inventory_levels()
        return super().poll(name, window)

    def poll_inventory(self, ctx: TranslationContext) -> list[Envelope]:
        """Read every inventory level now; one ``stock.counted`` per centre and page."""
        return [
            envelope
            for page in self.iter_inventory_levels()
            for envelope in self.translate("inventory_levels", page, ctx)
        ]


def _shipments_text(shipments: list[dict[str, Any]]) -> str:
    parts = []
    for shipment in shipments:
        tracking = shipment.get("tracking") if isinstance(shipment.get("tracking"), dict) else {}
        number = tracking.get("tracking_number") if tracking else None
        carrier = tracking.get("carrier") if tracking else None
        parts.append(
            f"shipment {shipment.get('id')}"
            + (f", {carrier or 'carrier'} tracking {number}" if number else "")
        )
    return "; ".join(parts)


def _response_time(response: httpx.Response) -> datetime:
    header = response.headers.get("Date")
    if header:
        try:
            return email.utils.parsedate_to_datetime(header).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC).replace(microsecond=0)
