"""Delivering webhooks the way each vendor delivers them: its headers, its signature, its retries.

A delivery is signed when it is sent (Stripe's and ShipBob's signatures cover the send time), with
the secret the vendor holds for that endpoint; a forged delivery is signed with a secret the vendor
does not hold. When the hub does not answer 2xx the vendor tries again on its own schedule
(:data:`RETRY_SCHEDULES`, in seconds of the simulated day, divided by the run's time compression);
a forger does not retry. Every attempt is recorded as an :class:`Attempt`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from simulation import signing
from simulation.scenario import SHOPIFY_DOMAIN, WOO_STORE, Delivery

__all__ = ["RETRY_SCHEDULES", "Attempt", "WebhookSender", "vendor_headers"]

#: Seconds after the first failed attempt at which each vendor tries again.
RETRY_SCHEDULES: Mapping[str, tuple[float, ...]] = {
    # Shopify: 8 tries in total over 4 hours, with growing gaps, then it gives up.
    "shopify": (60, 300, 900, 1800, 3600, 7200, 14_400),
    # Stripe: up to 3 days in live mode, exponential backoff.
    "stripe": (60, 300, 1800, 3600, 7200, 21_600, 43_200, 86_400, 172_800, 259_200),
    # WooCommerce core does not retry a failed delivery (it counts failures and disables the
    # webhook after 5 in a row); the event is lost unless the shop is polled.
    "woocommerce": (),
    # EasyPost: retries with backoff for failed deliveries (schedule not published in detail).
    "easypost": (60, 300, 1800, 3600, 7200),
    # ShipBob: "retries with exponential backoff" until a 2xx.
    "shipbob": (60, 240, 960, 3840, 15_360),
}

_WOO_WEBHOOK_IDS = {"order.created": 11, "order.updated": 12}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt of a delivery; ``status`` 0 when the hub could not be reached."""

    delivery_id: str
    kind: str
    number: int
    sent_at: float  # time.time()
    status: int
    message_id: str | None  # the hub's id for an accepted raw message


def vendor_headers(delivery: Delivery, secret: str, *, now: float | None = None) -> dict[str, str]:
    """The headers the vendor sends with ``delivery``, signed with ``secret`` at ``now``."""
    moment = time.time() if now is None else now
    stamp = int(moment)
    headers = {"Content-Type": "application/json"}
    if delivery.vendor == "shopify":
        headers |= {
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Shop-Domain": SHOPIFY_DOMAIN,
            "X-Shopify-API-Version": "2025-01",
            "X-Shopify-Webhook-Id": delivery.delivery_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": datetime.fromtimestamp(moment, UTC).isoformat(),
        }
    elif delivery.vendor == "woocommerce":
        resource, _, event = delivery.topic.partition(".")
        headers |= {
            "User-Agent": "WooCommerce/9.3.3 Hookshot (WordPress/6.6.2)",
            "X-WC-Webhook-Source": WOO_STORE + "/",
            "X-WC-Webhook-Topic": delivery.topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-ID": str(_WOO_WEBHOOK_IDS.get(delivery.topic, 10)),
            "X-WC-Webhook-Delivery-ID": delivery.delivery_id,
        }
    elif delivery.vendor == "stripe":
        headers["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    elif delivery.vendor == "shipbob":
        headers["x-webhook-topic"] = delivery.topic
    sign = signing.SCHEMES[delivery.vendor]
    headers |= sign(secret, delivery.body, timestamp=stamp, message_id=f"msg_{delivery.event_id}")
    return headers


class WebhookSender:
    """Sends deliveries to a hub's ingress (``{hub}/webhooks/{tenant}/{instance}``).

    ``secrets`` maps a connector instance to the secret its vendor signs with; ``compression`` is
    how many simulated seconds pass per real second, so retry gaps shrink with the day;
    ``as_sent`` (:meth:`simulation.server.World.as_sent`) fills in, at each attempt, what the
    vendor knows by then (the ShipBob order a shipment belongs to).
    """

    def __init__(
        self,
        hub_url: str,
        tenant: str,
        secrets: Mapping[str, str],
        *,
        compression: float = 1.0,
        client: httpx.AsyncClient | None = None,
        forger_secret: str = "whsec_Zm9yZ2VyLW5vdC10aGUtdmVuZG9y",  # noqa: S107 - a forger's, by design
        as_sent: Callable[[Delivery], Delivery] | None = None,
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.tenant = tenant
        self.secrets = dict(secrets)
        self.compression = compression
        self.forger_secret = forger_secret
        self.as_sent = as_sent
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self.attempts: list[Attempt] = []

    async def send(self, delivery: Delivery) -> Attempt:
        """Deliver once, then retry on the vendor's schedule until a 2xx or it gives up."""
        forged = delivery.kind == "forged"
        schedule = () if forged else RETRY_SCHEDULES.get(delivery.vendor, ())
        first = time.monotonic()
        number = 0
        while True:
            number += 1
            attempt = await self._attempt(delivery, number, forged)
            self.attempts.append(attempt)
            if 200 <= attempt.status < 300 or number > len(schedule):
                return attempt
            due = first + schedule[number - 1] / self.compression
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def _attempt(self, delivery: Delivery, number: int, forged: bool) -> Attempt:
        if self.as_sent is not None:
            delivery = self.as_sent(delivery)
        secret = self.forger_secret if forged else self.secrets[delivery.instance]
        sent = time.time()
        url = f"{self.hub_url}/webhooks/{self.tenant}/{delivery.instance}"
        try:
            response = await self._client.post(
                url, content=delivery.body, headers=vendor_headers(delivery, secret, now=sent)
            )
        except httpx.HTTPError:
            return Attempt(delivery.delivery_id, delivery.kind, number, sent, 0, None)
        message_id = None
        if response.status_code == 200:
            message_id = str(response.json().get("id"))
        return Attempt(
            delivery.delivery_id, delivery.kind, number, sent, response.status_code, message_id
        )

    async def aclose(self) -> None:
        await self._client.aclose()
