"""Webhooks from the simulation pass our connectors' verification; forgeries do not; vendors retry."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors.errors import WebhookVerificationError
from connectors.registry import discover
from simulation import generate
from simulation.sender import RETRY_SCHEDULES, WebhookSender, vendor_headers

SECRETS = {
    "shopify_us": "shpss_simulated_client_secret",
    "woo_us": "wc&amp;secret",  # entity-encoded, as WooCommerce stores it
    "stripe": "whsec_simulated_0123456789",
    "easypost": "sécret",  # EasyPost normalises to NFKD
    "shipbob": "whsec_c2VjcmV0LWtleS0xMjM0NTY3OA==",
}
CONFIGS = {
    "shopify": {"shop_domain": "demo-store.myshopify.com", "access_token": "shpat_x"},
    "woocommerce": {"store_url": "https://shop.demo.example", "consumer_key": "ck_x",
                    "consumer_secret": "cs_x"},
    "stripe": {"api_key": "sk_test_x"},
    "easypost": {"api_key": "EZTK_x"},
    "shipbob": {"access_token": "pat_x", "channel_id": "1"},
}  # fmt: skip


def _connector(vendor: str, secret: str):
    return discover()[vendor]({**CONFIGS[vendor], "webhook_secrets": [secret]})


@pytest.fixture(scope="module")
def deliveries():
    scenario = generate(3, 60)
    chosen = {}
    for delivery in scenario.deliveries:
        chosen.setdefault(delivery.vendor, delivery)
    assert set(chosen) == set(CONFIGS)
    return list(chosen.values())


def test_each_vendors_signature_passes_our_connector(deliveries) -> None:
    for delivery in deliveries:
        secret = SECRETS[delivery.instance]
        connector = _connector(delivery.vendor, secret)
        connector.verify_webhook(vendor_headers(delivery, secret), delivery.body)


def test_a_wrong_secret_or_a_changed_byte_is_refused(deliveries) -> None:
    for delivery in deliveries:
        secret = SECRETS[delivery.instance]
        connector = _connector(delivery.vendor, secret)
        forged = vendor_headers(delivery, "whsec_Zm9yZ2VkLXNlY3JldA==")
        with pytest.raises(WebhookVerificationError):
            connector.verify_webhook(forged, delivery.body)
        with pytest.raises(WebhookVerificationError):
            connector.verify_webhook(vendor_headers(delivery, secret), delivery.body + b" ")


def test_the_vendor_retries_a_refused_delivery_on_its_schedule(deliveries) -> None:
    shopify = next(d for d in deliveries if d.vendor == "shopify")
    answers = iter([503, 500, 200])
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = next(answers)
        return httpx.Response(status, json={"id": "m1"} if status == 200 else {})

    async def run() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(hub))
        sender = WebhookSender("http://hub", "demo", SECRETS, compression=3600.0, client=client)
        final = await sender.send(shopify)
        await sender.aclose()
        assert (final.status, final.number, final.message_id) == (200, 3, "m1")
        assert [a.status for a in sender.attempts] == [503, 500, 200]
        gap = sender.attempts[2].sent_at - sender.attempts[0].sent_at
        assert gap >= RETRY_SCHEDULES["shopify"][1] / 3600.0 * 0.9

    asyncio.run(run())
    assert {r.headers["X-Shopify-Webhook-Id"] for r in seen} == {shopify.delivery_id}
    assert seen[0].url.path == "/webhooks/demo/shopify_us"


def test_a_forger_does_not_retry_and_woocommerce_never_does(deliveries) -> None:
    woo = next(d for d in deliveries if d.vendor == "woocommerce")
    calls = []

    def hub(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    async def run() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(hub))
        sender = WebhookSender("http://hub", "demo", SECRETS, compression=1e6, client=client)
        assert (await sender.send(woo)).status == 503
        await sender.aclose()

    asyncio.run(run())
    assert len(calls) == 1
