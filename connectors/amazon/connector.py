"""Amazon SP-API marketplace connector: order and refund polling in, inventory quantities out.

Orders are polled with ``getOrders`` (``LastUpdatedAfter``/``Before``, ``NextToken`` pages) and each
order's items with ``getOrderItems``; ``ORDER_CHANGE`` notifications (via SQS, so no signature at
the hub's door) name orders to re-read. Refunds are polled from the Finances API
(``listFinancialEvents`` by ``PostedAfter``/``PostedBefore``, the ``refunds`` poll): each item of
``RefundEventList`` is a ``refundEvent``. Quantities are set with ``patchListingsItem``. Calls carry
an LWA access token (``x-amz-access-token``), fetched with the refresh token and cached until shortly
before it expires. SP-API publishes a rate and burst per operation; :class:`OperationRateLimiter`
spends them before a call, and a 429 still backs off with ``Retry-After`` when Amazon sends it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr

from canonical.envelope import Envelope
from connectors.amazon import mapping
from connectors.base import load_payload
from connectors.errors import RequestRejected, TranslationError
from connectors.http import HttpClient, OperationRateLimiter
from connectors.pagination import JsonPathPaginator, TimeWindow, paginate
from connectors.polling import PollSpec
from connectors.reconcile import OrderChannel
from connectors.secrets import reveal
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec, TranslationContext

__all__ = ["AmazonConfig", "AmazonConnector"]

ORDER_EVENTS = ("order.created", "order.updated", "order.cancelled")
#: (requests per second, burst) per operation, from the SP-API usage plans.
RATES = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "listFinancialEvents": (0.5, 30),
    "patchListingsItem": (5.0, 5),
}
#: listFinancialEvents refuses a PostedBefore later than two minutes before the request.
FINANCES_SETTLE = timedelta(minutes=2)
#: listFinancialEvents returns nothing for a PostedAfter and PostedBefore more than 180 days apart.
FINANCES_MAX_SPAN = timedelta(days=180)
#: The most listFinancialEvents returns in one page (its MaxResultsPerPage maximum).
FINANCES_PAGE_SIZE = 100


class AmazonConfig(ConnectorConfig):
    seller_id: Annotated[str, Field(min_length=1, max_length=32)]
    marketplace_ids: Annotated[list[str], Field(min_length=1)] = Field(
        description="Marketplaces to read, e.g. ATVPDKIKX0DER (amazon.com)."
    )
    endpoint: Annotated[str, Field(pattern=r"^https://sellingpartnerapi-(na|eu|fe)\.amazon\.com$")]
    client_id: str = Field(description="LWA client id of the app.")
    client_secret: SecretStr
    refresh_token: SecretStr
    access_token: SecretStr | None = Field(
        default=None, description="A token from an external token broker, instead of LWA refresh."
    )
    api_base: ApiBase | None = Field(
        default=None,
        description="Replaces endpoint (the SP-API sandbox or a local simulator); operation paths "
        "such as /orders/v0/orders are kept.",
    )
    lwa_endpoint: ApiBase = Field(
        default="https://api.amazon.com",
        description="Login with Amazon origin; the token is POSTed to {lwa_endpoint}/auth/o2/token.",
    )


class AmazonConnector(OrderChannel):
    name: ClassVar[str] = "amazon"
    kind: ClassVar[ConnectorKind] = ConnectorKind.MARKETPLACE
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = AmazonConfig
    events: ClassVar[dict[str, EventSpec]] = {
        "getOrders": EventSpec("getOrders", mapping.translate_get_orders, ORDER_EVENTS, source="poll"),
        "getOrder": EventSpec("getOrder", mapping.translate_get_order, ORDER_EVENTS, source="poll"),
        "getOrderItems": EventSpec(
            "getOrderItems", mapping.translate_get_order_items, (), source="poll",
            description="One order's items without its header: checked; fetch_order makes the "
            "snapshot",
        ),
        "ORDER_CHANGE": EventSpec(
            "ORDER_CHANGE", mapping.translate_order_change, (),
            description="A trigger to re-read the order (refresh_orders); carries no snapshot",
        ),
        "refundEvent": EventSpec(
            "refundEvent", mapping.translate_refund_event, ("payment.refunded",), source="poll",
            description="One RefundEventList item of listFinancialEvents (the refunds poll)",
        ),
    }  # fmt: skip
    accepts: ClassVar[tuple[str, ...]] = ("availability.changed",)
    reconcile_event: ClassVar[str] = "getOrder"  # a polled order translates as this

    @classmethod
    def webhook_event(cls, headers: Any, payload: Any) -> str:
        """SP-API notifications name themselves: ``NotificationType``."""
        kind = payload.get("NotificationType") if isinstance(payload, dict) else None
        return cls._known_event(kind)

    @classmethod
    def poll_specs(cls) -> dict[str, PollSpec]:
        return {
            **super().poll_specs(),
            "refunds": PollSpec(
                "refunds",
                "refundEvent",
                windowed=True,
                description="refunds posted in the window (Finances API listFinancialEvents, "
                "RefundEventList); Amazon sends no refund notification",
            ),
        }

    def poll(self, name: str, window: TimeWindow | None) -> Iterator[Any]:
        if name == "refunds":
            if window is None:
                raise ValueError("the refunds poll reads a time window")
            return self.iter_refunds(window)
        return super().poll(name, window)

    config: AmazonConfig
    _token: tuple[str, float] | None = None

    def base_url(self) -> str:
        return self.config.api_base or self.config.endpoint

    def rate_limit_policy(self) -> OperationRateLimiter:
        return OperationRateLimiter(RATES)

    def _access_token(self) -> str:
        if self.config.access_token is not None:
            return reveal(self.config.access_token)
        if self._token is not None and self._token[1] > time.monotonic():
            return self._token[0]
        lwa = HttpClient(
            connector=self.name,
            base_url=self.config.lwa_endpoint,
            timeout=self.config.timeout_seconds,
            max_attempts=self.config.max_attempts,
            transport=self._transport,
            sleep=self._sleep,
        )
        try:
            response = lwa.request(
                "POST",
                "/auth/o2/token",
                operation="lwa.token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": reveal(self.config.refresh_token),
                    "client_id": self.config.client_id,
                    "client_secret": reveal(self.config.client_secret),
                },
            )
        finally:
            lwa.close()
        body = load_payload(response.content)
        token = str(body["access_token"])
        self._token = (token, time.monotonic() + int(body.get("expires_in", 3600)) - 60)
        return token

    def _call(self, method: str, path: str, operation: str, **kw: Any) -> Any:
        headers = {"x-amz-access-token": self._access_token()}
        return self.http.request(method, path, operation=operation, headers=headers, **kw)

    def account(self) -> str:
        return f"seller {self.config.seller_id}"

    def push_availability(
        self, sku: str, available: int, *, external_ids: Mapping[str, str]
    ) -> None:
        """Set the merchant-fulfilled quantity of the listing whose seller SKU the catalogue names.

        ``patchListingsItem`` takes one marketplace per call, so each configured marketplace gets
        its own call. A ``200`` whose submission status is ``INVALID`` is a refusal, not a success.
        """
        seller_sku = self.external_id(sku, external_ids, "seller_sku")
        self.set_quantity(seller_sku, available)

    def set_quantity(self, seller_sku: str, quantity: int) -> list[Any]:
        """Set the merchant-fulfilled quantity of ``seller_sku`` in every configured marketplace.

        Returns the ``ListingsItemSubmissionResponse`` of each marketplace; raises
        :class:`RequestRejected` (naming the issue codes) when Amazon answers ``INVALID``.
        """
        path = f"/listings/2021-08-01/items/{self.config.seller_id}/{quote(seller_sku, safe='')}"
        submissions = []
        for marketplace in self.config.marketplace_ids:
            response = self._call(
                "PATCH",
                path,
                "patchListingsItem",
                params={"marketplaceIds": marketplace},
                json=mapping.from_canonical_inventory(quantity),
            )
            submission = load_payload(response.content)
            if submission.get("status") == "INVALID":
                codes = [
                    str(issue.get("code"))
                    for issue in submission.get("issues", [])
                    if issue.get("severity") == "ERROR"
                ]
                raise RequestRejected(
                    f"listing {seller_sku!r} in {marketplace} was refused (status INVALID, "
                    f"issue codes {', '.join(codes) or 'none given'})",
                    status_code=response.status_code,
                    connector=self.name,
                    operation="patchListingsItem",
                )
            submissions.append(submission)
        return submissions

    def order_items(self, order_id: str) -> list[Any]:
        """Every item of one order (``getOrderItems``, all ``NextToken`` pages), checked."""
        items: list[Any] = []

        def fetch(token: str | None) -> Any:
            params = {"NextToken": token} if token else None
            return self._call(
                "GET",
                f"/orders/v0/orders/{quote(order_id, safe='')}/orderItems",
                "getOrderItems",
                params=params,
            )

        for response in paginate(fetch, JsonPathPaginator(("payload", "NextToken"))):
            answered, page, _ = mapping.order_items(load_payload(response.content))
            if answered != order_id:
                raise TranslationError(
                    f"getOrderItems for {order_id} answered for {answered}",
                    field="payload.AmazonOrderId",
                    connector=self.name,
                    operation="getOrderItems",
                )
            items.extend(page)
        return items

    def fetch_order(self, order_id: str) -> Any:
        """One order re-read now: ``getOrder`` with its ``getOrderItems`` attached.

        The result is the ``getOrder`` event's payload; a Pending order (no prices yet) is
        returned without items, and translates to nothing until it is paid.
        """
        response = self._call("GET", f"/orders/v0/orders/{quote(order_id, safe='')}", "getOrder")
        body = load_payload(response.content)
        order = body["payload"]
        if order.get("OrderStatus") not in mapping.SKIPPED_STATUSES:
            order = {**order, "OrderItems": self.order_items(order_id)}
        return {**body, "payload": order}

    def refresh_orders(self, notification: Any, ctx: TranslationContext) -> list[Envelope]:
        """The fresh snapshot of every order an ``ORDER_CHANGE`` notification names."""
        return [
            envelope
            for order_id in mapping.orders_to_refresh(notification)
            for envelope in self.translate("getOrder", self.fetch_order(order_id), ctx)
        ]

    def iter_orders(self, window: TimeWindow, *, with_items: bool = True) -> Iterator[Any]:
        """Orders updated in ``window``, each with its ``OrderItems`` attached (see mapping)."""

        def fetch(token: str | None) -> Any:
            params: dict[str, Any] = {"MarketplaceIds": ",".join(self.config.marketplace_ids)}
            if token:
                params["NextToken"] = token
            else:
                params["LastUpdatedAfter"] = window.start.isoformat()
                params["LastUpdatedBefore"] = window.end.isoformat()
            return self._call("GET", "/orders/v0/orders", "getOrders", params=params)

        for response in paginate(fetch, JsonPathPaginator(("payload", "NextToken"))):
            for order in load_payload(response.content)["payload"].get("Orders", []):
                if with_items and order.get("OrderStatus") not in mapping.SKIPPED_STATUSES:
                    order = {**order, "OrderItems": self.order_items(order["AmazonOrderId"])}
                yield order

    def _now(self) -> datetime:
        """The current time (the Finances API bounds PostedBefore by it); tests replace it."""
        return datetime.now(UTC)

    def iter_refunds(self, window: TimeWindow) -> Iterator[Any]:
        """Refund events posted in ``window`` (each a ``RefundEventList`` ShipmentEvent, raw),
        every ``listFinancialEvents`` page followed with ``NextToken`` alone.

        ``PostedBefore`` is held at two minutes before now, as Amazon requires; when that leaves
        nothing of the window, nothing is requested (the hub's next run reads from its mark less
        the overlap, so the last two minutes are read then). A window longer than 180 days, which
        Amazon would answer with nothing, is read in 180-day parts.
        """
        end = min(window.end, self._now() - FINANCES_SETTLE)
        if end <= window.start:
            return
        for part in TimeWindow(window.start, end).split(FINANCES_MAX_SPAN):
            yield from self._refund_pages(part)

    def _refund_pages(self, window: TimeWindow) -> Iterator[Any]:
        def fetch(token: str | None) -> Any:
            params: dict[str, Any]
            if token:
                params = {"NextToken": token}
            else:
                params = {
                    "PostedAfter": window.start.isoformat(),
                    "PostedBefore": window.end.isoformat(),
                    "MaxResultsPerPage": FINANCES_PAGE_SIZE,
                }
            return self._call(
                "GET", "/finances/v0/financialEvents", "listFinancialEvents", params=params
            )

        for response in paginate(fetch, JsonPathPaginator(("payload", "NextToken"))):
            try:
                refunds, _ = mapping.refund_events(load_payload(response.content))
            except TranslationError as exc:
                exc.connector, exc.operation = self.name, "listFinancialEvents"
                raise
            yield from refunds
