"""Each vendor's webhook signature, computed exactly as the vendor computes it.

Every scheme signs the raw body bytes that are sent (never a re-serialisation):

* Shopify: ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(client secret, body));
* WooCommerce: ``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(secret, body)), with the secret
  HTML-entity-decoded first (WooCommerce runs ``wp_specialchars_decode`` on it);
* Stripe: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``;
* EasyPost: ``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256(NFKD(secret), body)>``;
* ShipBob (Standard Webhooks, unconfirmed by ShipBob): ``webhook-signature: v1,<base64
  HMAC-SHA256(base64-decoded whsec_ secret, "<id>.<timestamp>.<body>")>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import unicodedata

__all__ = ["SCHEMES", "easypost", "shipbob", "shopify", "stripe", "woocommerce"]


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def shopify(secret: str, body: bytes, **_: object) -> dict[str, str]:
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(_hmac(secret.encode(), body)).decode()}


def woocommerce(secret: str, body: bytes, **_: object) -> dict[str, str]:
    key = html.unescape(secret).encode()
    return {"X-WC-Webhook-Signature": base64.b64encode(_hmac(key, body)).decode()}


def stripe(secret: str, body: bytes, *, timestamp: int, **_: object) -> dict[str, str]:
    signed = f"{timestamp}.".encode() + body
    return {"Stripe-Signature": f"t={timestamp},v1={_hmac(secret.encode(), signed).hex()}"}


def easypost(secret: str, body: bytes, **_: object) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode()
    return {"X-Hmac-Signature": "hmac-sha256-hex=" + _hmac(key, body).hex()}


def shipbob(secret: str, body: bytes, *, timestamp: int, message_id: str) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(_hmac(key, signed)).decode(),
    }


#: vendor -> signer(secret, body, timestamp=..., message_id=...) -> signature headers
SCHEMES = {
    "shopify": shopify,
    "woocommerce": woocommerce,
    "stripe": stripe,
    "easypost": easypost,
    "shipbob": shipbob,
}
