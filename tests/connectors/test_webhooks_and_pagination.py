"""Signature schemes and paginators, beyond what the kit checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.errors import PaginationLoopError, WebhookVerificationError
from connectors.pagination import (
    Cursor,
    JsonPathPaginator,
    LinkHeaderPaginator,
    TimeWindow,
    next_link,
    paginate,
)
from connectors.secrets import SecretStr, redact_secrets
from connectors.webhooks import HmacBodyVerifier, StripeSignatureVerifier, html_entities_decoded

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
BODY = b'{"id":1}'


def test_shopify_style_base64_hmac_matches_an_independent_computation() -> None:
    expected = base64.b64encode(hmac.new(b"s3cret", BODY, hashlib.sha256).digest()).decode()
    verifier = HmacBodyVerifier("X-Shopify-Hmac-Sha256", encoding="base64")
    verifier.verify({"x-shopify-hmac-sha256": expected}, BODY, [SecretStr("s3cret")])
    with pytest.raises(WebhookVerificationError):
        verifier.verify({"X-Shopify-Hmac-Sha256": expected}, BODY, [SecretStr("other")])


def test_woocommerce_secret_is_html_entity_decoded() -> None:
    verifier = HmacBodyVerifier(
        "X-WC-Webhook-Signature", encoding="base64", key_transform=html_entities_decoded
    )
    expected = base64.b64encode(hmac.new(b"a&b", BODY, hashlib.sha256).digest()).decode()
    verifier.verify({"X-WC-Webhook-Signature": expected}, BODY, ["a&amp;b"])


def test_no_secret_configured_refuses() -> None:
    with pytest.raises(WebhookVerificationError, match="no webhook secret"):
        HmacBodyVerifier("X-Sig", encoding="hex").verify({"X-Sig": "00"}, BODY, [])


def test_stripe_any_v1_matches_and_future_timestamps_are_refused() -> None:
    verifier = StripeSignatureVerifier()
    ts = int(NOW.timestamp())
    good = verifier.sign(BODY, "whsec_a", timestamp=ts)["Stripe-Signature"].split("v1=")[1]
    header = f"t={ts},v1={'0' * 64},v1={good},v0=ignored"
    verifier.verify({"Stripe-Signature": header}, BODY, ["whsec_a"], now=NOW)
    future = verifier.sign(BODY, "whsec_a", timestamp=ts + 3600)
    with pytest.raises(WebhookVerificationError, match="future"):
        verifier.verify(future, BODY, ["whsec_a"], now=NOW)
    with pytest.raises(WebhookVerificationError, match="bad timestamp"):
        verifier.verify({"Stripe-Signature": "t=abc,v1=00"}, BODY, ["whsec_a"], now=NOW)


def test_verification_errors_never_show_the_secret() -> None:
    verifier = StripeSignatureVerifier()
    with pytest.raises(WebhookVerificationError) as caught:
        verifier.verify({"Stripe-Signature": "t=1,v1=00"}, BODY, ["whsec_topsecret"], now=NOW)
    assert "whsec_topsecret" not in str(caught.value)


def test_next_link_reads_rel_next_among_others() -> None:
    header = (
        '<https://s.myshopify.com/admin/api/2025-01/orders.json?page_info=prev1&limit=2>; rel="previous", '
        '<https://s.myshopify.com/admin/api/2025-01/orders.json?page_info=next1&limit=2>; rel="next"'
    )
    assert next_link(header) is not None
    assert "page_info=next1" in next_link(header)
    assert next_link('<https://x/y?page_info=p>; rel="previous"') is None
    assert next_link(None) is None


def test_link_paginator_follows_page_info_then_stops() -> None:
    paginator = LinkHeaderPaginator()
    paginator.advance(
        httpx.Response(200, headers={"Link": '<https://x/o.json?page_info=A>; rel="next"'})
    )
    assert paginator.current == "A"
    assert not paginator.finished
    paginator.advance(httpx.Response(200))
    assert paginator.finished


def test_next_token_paginator_refuses_a_token_seen_before() -> None:
    pages = iter(
        [
            httpx.Response(200, json={"payload": {"Orders": [1], "NextToken": "t1"}}),
            httpx.Response(200, json={"payload": {"Orders": [2], "NextToken": "t2"}}),
            httpx.Response(200, json={"payload": {"Orders": [3], "NextToken": "t1"}}),
        ]
    )
    with pytest.raises(PaginationLoopError, match="t1"):
        for _ in paginate(lambda _token: next(pages), JsonPathPaginator(("payload", "NextToken"))):
            pass


def test_time_window_split_and_cursor_never_moves_back() -> None:
    window = TimeWindow(NOW, NOW + timedelta(hours=5))
    parts = window.split(timedelta(hours=2))
    assert [(p.end - p.start).total_seconds() / 3600 for p in parts] == [2, 2, 1]
    assert parts[-1].end == window.end
    with pytest.raises(ValueError, match="end after"):
        TimeWindow(NOW, NOW)
    cursor = Cursor().advanced(NOW)
    assert cursor.advanced(NOW - timedelta(days=1)).high_water == NOW


def test_redact_secrets_masks_every_occurrence() -> None:
    assert redact_secrets("a key=abc and abc", ["abc"]) == "a key=********** and **********"


def test_standard_webhooks_matches_the_published_scheme() -> None:
    from connectors.webhooks import StandardWebhooksVerifier

    key = b"standard-key"
    secret = "whsec_" + base64.b64encode(key).decode()
    ts = int(NOW.timestamp())
    signed = f"msg_1.{ts}.".encode() + BODY
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts),
               "webhook-signature": f"v1,bogus v1,{expected}"}  # fmt: skip
    verifier = StandardWebhooksVerifier()
    verifier.verify(headers, BODY, [secret], now=NOW)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verifier.verify(headers, BODY, [secret], now=NOW + timedelta(minutes=6))
    with pytest.raises(WebhookVerificationError, match="no v1"):
        verifier.verify({**headers, "webhook-id": "msg_2"}, BODY, [secret], now=NOW)


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("eyJwYWdlIjoyfQ", "eyJwYWdlIjoyfQ"),
        ("/2026-01/inventory-level/locations?Cursor=eyJwYWdlIjoyfQ", "eyJwYWdlIjoyfQ"),
        ("https://api.shipbob.com/2026-01/inventory-level/locations?cursor=abc%3D", "abc="),
        ("/2026-01/inventory-level/locations?PageSize=5", None),
        (None, None),
    ],
)
def test_json_path_paginator_takes_the_cursor_out_of_a_next_link(
    value: str | None, token: str | None
) -> None:
    paginator = JsonPathPaginator(("next",), param="Cursor")
    assert paginator.get_next(httpx.Response(200, json={"items": [], "next": value})) == token
