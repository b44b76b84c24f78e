"""The hub's Stripe-Signature verification agrees with Stripe's own SDK on a delivery matrix."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors.errors import WebhookVerificationError
from connectors.webhooks import StripeSignatureVerifier

stripe = pytest.importorskip("stripe")

BODY = b'{"id":"evt_1","object":"event","type":"payment_intent.succeeded","data":{"object":{}}}'
SECRET = "whsec_current_0123456789"
OTHER = "whsec_other_9876543210"


def _header(body: bytes, secret: str, timestamp: int) -> str:
    return StripeSignatureVerifier().sign(body, secret, timestamp=timestamp)["Stripe-Signature"]


def _matrix() -> list[tuple[str, bytes, str]]:
    now = int(time.time())
    genuine = _header(BODY, SECRET, now)
    other_v1 = _header(BODY, OTHER, now).split("v1=")[1]
    return [
        ("genuine", BODY, genuine),
        ("genuine, second v1 during rotation", BODY, f"{genuine},v1={other_v1}"),
        ("rotation, ours second", BODY, f"t={now},v1={other_v1},{genuine.split(',')[1]}"),
        ("tampered body", BODY.replace(b"evt_1", b"evt_2"), genuine),
        ("re-keyed", BODY, _header(BODY, OTHER, now)),
        ("stale by 301 s", BODY, _header(BODY, SECRET, now - 301)),
        ("stale by a day", BODY, _header(BODY, SECRET, now - 86400)),
        ("recent (299 s)", BODY, _header(BODY, SECRET, now - 290)),
        ("v0 only", BODY, genuine.replace("v1=", "v0=")),
        ("no timestamp", BODY, genuine.split(",")[1]),
    ]


@pytest.mark.parametrize("case", range(10))
def test_hub_and_stripe_sdk_agree(case: int) -> None:
    name, body, header = _matrix()[case]
    try:
        stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=300)
        sdk_accepts = True
    except stripe.SignatureVerificationError:
        sdk_accepts = False
    try:
        StripeSignatureVerifier(tolerance=300).verify(
            {"stripe-signature": header}, body, [SECRET], now=datetime.now(UTC)
        )
        hub_accepts = True
    except WebhookVerificationError:
        hub_accepts = False
    assert hub_accepts == sdk_accepts, name
    expected = name.startswith(("genuine", "rotation", "recent"))
    assert hub_accepts is expected, name


def test_sdk_signature_generator_is_accepted_by_the_hub() -> None:
    now = int(time.time())
    header = stripe.WebhookSignature._compute_signature(f"{now}.{BODY.decode()}", SECRET)
    StripeSignatureVerifier().verify(
        {"Stripe-Signature": f"t={now},v1={header}"}, BODY, [SECRET], now=datetime.now(UTC)
    )
