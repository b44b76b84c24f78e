"""Webhook signature verification on the raw request body, before anything parses it.

Every scheme here compares with :func:`hmac.compare_digest` (constant time) and accepts a *list* of
secrets: vendors rotate secrets (Shopify says a new client secret can take an hour to be used), so a
delivery signed with any active secret passes. Header names are matched case-insensitively.

Schemes:

* :class:`HmacBodyVerifier` - HMAC-SHA256 of the raw body in one header: Shopify
  (``X-Shopify-Hmac-Sha256``, base64), WooCommerce (``X-WC-Webhook-Signature``, base64, secret
  HTML-entity-decoded), EasyPost (``X-Hmac-Signature: hmac-sha256-hex=<hex>``, secret NFKD).
* :class:`StripeSignatureVerifier` - ``Stripe-Signature: t=<ts>,v1=<hex>[,v1=...]`` over
  ``"<t>.<body>"`` with a timestamp tolerance (300 s by default, as Stripe's SDK).

Body-only HMACs carry no timestamp and so no replay protection: deduplicate on the idempotency key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

from connectors.errors import WebhookVerificationError
from connectors.secrets import SecretStr, reveal

__all__ = [
    "HmacBodyVerifier",
    "StandardWebhooksVerifier",
    "StripeSignatureVerifier",
    "WebhookVerifier",
    "get_header",
    "hmac_sha256",
    "sign_body",
]

Secret = SecretStr | str


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name``, matched case-insensitively (HTTP header names are)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


class WebhookVerifier(Protocol):
    """Verifies one delivery; raises WebhookVerificationError, returns None when genuine."""

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[Secret],
        *,
        now: datetime | None = None,
    ) -> None: ...

    def sign(self, body: bytes, secret: Secret, *, timestamp: int | None = None) -> dict[str, str]:
        """Headers a genuine delivery of ``body`` would carry (for tests and the kit)."""
        ...


def _identity(secret: str) -> str:
    return secret


def nfkd(secret: str) -> str:
    """EasyPost normalises the webhook secret to Unicode NFKD before using it as the key."""
    return unicodedata.normalize("NFKD", secret)


def html_entities_decoded(secret: str) -> str:
    """WooCommerce runs the secret through wp_specialchars_decode(ENT_QUOTES) first."""
    return html.unescape(secret)


class HmacBodyVerifier:
    """HMAC-SHA256 over the raw body, carried in one header (optionally after a fixed prefix)."""

    def __init__(
        self,
        header: str,
        *,
        encoding: Literal["base64", "hex"],
        prefix: str = "",
        key_transform: Callable[[str], str] = _identity,
    ) -> None:
        self.header = header
        self.encoding = encoding
        self.prefix = prefix
        self.key_transform = key_transform

    def _signature(self, body: bytes, secret: Secret) -> str:
        key = self.key_transform(reveal(secret)).encode("utf-8")
        digest = hmac_sha256(key, body)
        encoded = base64.b64encode(digest).decode() if self.encoding == "base64" else digest.hex()
        return self.prefix + encoded

    def sign(self, body: bytes, secret: Secret, *, timestamp: int | None = None) -> dict[str, str]:
        return {self.header: self._signature(body, secret)}

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[Secret],
        *,
        now: datetime | None = None,
    ) -> None:
        if not secrets:
            raise WebhookVerificationError("no webhook secret is configured")
        received = get_header(headers, self.header)
        if not received:
            raise WebhookVerificationError(f"missing {self.header} header")
        received = received.strip()
        matched = False
        for secret in secrets:
            # no early exit: every secret is tried, so timing does not reveal which one matched
            expected = self._signature(body, secret)
            matched |= hmac.compare_digest(expected.encode(), received.encode())
        if not matched:
            raise WebhookVerificationError(f"{self.header} does not match the body")


class StripeSignatureVerifier:
    """Stripe's ``Stripe-Signature`` scheme: signed ``"<t>.<body>"``, any ``v1`` may match.

    Stripe's own SDK refuses a timestamp older than ``tolerance``; this verifier also refuses one
    more than ``tolerance`` in the future, because a signature from the future is not a clock skew
    anybody should accept. Other schemes (``v0``) are ignored, as Stripe documents.
    """

    header = "Stripe-Signature"

    def __init__(self, *, tolerance: int = 300) -> None:
        self.tolerance = tolerance

    @staticmethod
    def _compute(body: bytes, timestamp: int, secret: Secret) -> str:
        signed = str(timestamp).encode() + b"." + body
        return hmac.new(reveal(secret).encode("utf-8"), signed, hashlib.sha256).hexdigest()

    def sign(self, body: bytes, secret: Secret, *, timestamp: int | None = None) -> dict[str, str]:
        if timestamp is None:
            raise ValueError("Stripe signatures need a timestamp")
        return {self.header: f"t={timestamp},v1={self._compute(body, timestamp, secret)}"}

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[Secret],
        *,
        now: datetime | None = None,
    ) -> None:
        if not secrets:
            raise WebhookVerificationError("no webhook secret is configured")
        value = get_header(headers, self.header)
        if not value:
            raise WebhookVerificationError(f"missing {self.header} header")
        timestamp: int | None = None
        candidates: list[str] = []
        for item in value.split(","):
            key, _, val = item.strip().partition("=")
            if key == "t":
                try:
                    timestamp = int(val)
                except ValueError:
                    raise WebhookVerificationError("Stripe-Signature has a bad timestamp") from None
            elif key == "v1":
                candidates.append(val)
        if timestamp is None:
            raise WebhookVerificationError("Stripe-Signature has no timestamp")
        if not candidates:
            raise WebhookVerificationError("Stripe-Signature has no v1 signature")
        matched = False
        for secret in secrets:
            expected = self._compute(body, timestamp, secret).encode()
            for candidate in candidates:
                matched |= hmac.compare_digest(expected, candidate.encode())
        if not matched:
            raise WebhookVerificationError("no v1 signature matches the body")
        current = (now or datetime.now(UTC)).timestamp()
        if self.tolerance and timestamp < current - self.tolerance:
            raise WebhookVerificationError(
                f"timestamp is older than the {self.tolerance} s tolerance (a replay?)"
            )
        if self.tolerance and timestamp > current + self.tolerance:
            raise WebhookVerificationError("timestamp is in the future beyond the tolerance")


class StandardWebhooksVerifier:
    """The Standard Webhooks scheme (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp``
    and ``webhook-signature: v1,<base64> [v1,<base64> ...]`` over ``"<id>.<timestamp>.<body>"``.

    The key is the secret's base64 part (after ``whsec_``), decoded. Timestamps more than
    ``tolerance`` seconds away from now (either way) are refused, as the reference libraries do.
    """

    header = "webhook-signature"

    def __init__(self, *, tolerance: int = 300) -> None:
        self.tolerance = tolerance

    @staticmethod
    def _key(secret: Secret) -> bytes:
        """``whsec_<base64>`` is decoded; any other secret is used as its UTF-8 bytes."""
        value = reveal(secret)
        if not value.startswith("whsec_"):
            return value.encode("utf-8")
        try:
            return base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except ValueError:
            raise WebhookVerificationError("a configured secret is not whsec_<base64>") from None

    def _compute(self, msg_id: str, timestamp: int, body: bytes, secret: Secret) -> str:
        signed = f"{msg_id}.{timestamp}.".encode() + body
        return base64.b64encode(hmac_sha256(self._key(secret), signed)).decode()

    def sign(self, body: bytes, secret: Secret, *, timestamp: int | None = None) -> dict[str, str]:
        if timestamp is None:
            raise ValueError("Standard Webhooks signatures need a timestamp")
        msg_id = "msg_conformance"
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": f"v1,{self._compute(msg_id, timestamp, body, secret)}",
        }

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[Secret],
        *,
        now: datetime | None = None,
    ) -> None:
        if not secrets:
            raise WebhookVerificationError("no webhook secret is configured")
        msg_id = get_header(headers, "webhook-id")
        stamp = get_header(headers, "webhook-timestamp")
        signatures = get_header(headers, "webhook-signature")
        if not msg_id or not stamp or not signatures:
            raise WebhookVerificationError("missing webhook-id, webhook-timestamp or signature")
        try:
            timestamp = int(stamp)
        except ValueError:
            raise WebhookVerificationError("webhook-timestamp is not a Unix time") from None
        candidates = [
            value for version, _, value in (s.partition(",") for s in signatures.split())
            if version == "v1"
        ]  # fmt: skip
        matched = False
        for secret in secrets:
            expected = self._compute(msg_id, timestamp, body, secret).encode()
            for candidate in candidates:
                matched |= hmac.compare_digest(expected, candidate.encode())
        if not matched:
            raise WebhookVerificationError("no v1 signature matches the body")
        current = (now or datetime.now(UTC)).timestamp()
        if abs(current - timestamp) > self.tolerance:
            raise WebhookVerificationError(
                f"webhook-timestamp is outside the {self.tolerance} s tolerance"
            )


def sign_body(verifier: WebhookVerifier, body: bytes, secret: Secret, **kw: int) -> dict[str, str]:
    """Convenience for tests: the headers of a genuine delivery."""
    return verifier.sign(body, secret, **kw)
