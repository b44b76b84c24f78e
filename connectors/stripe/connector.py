"""Stripe payment connector: payment webhooks in, refunds out.

Webhooks are verified with the ``Stripe-Signature`` scheme (``t=...,v1=...`` over
``"<t>.<raw body>"``, 300 s tolerance, any ``v1`` of any configured endpoint secret). Refunds are
created with ``POST /v1/refunds`` carrying an ``Idempotency-Key`` derived from the hub's own key, so
a retry after a lost response cannot refund twice.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr

from canonical.money import Money
from connectors.base import Connector, load_payload
from connectors.secrets import reveal
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec
from connectors.stripe import mapping
from connectors.webhooks import StripeSignatureVerifier

__all__ = ["StripeConfig", "StripeConnector"]


class StripeConfig(ConnectorConfig):
    """One Stripe account (or connected account) and its webhook endpoint."""

    api_key: SecretStr = Field(description="Secret or restricted API key (sk_... / rk_...).")
    webhook_secrets: Annotated[list[SecretStr], Field(min_length=1, max_length=3)] = Field(
        description="Endpoint signing secret(s) (whsec_...); two during a rotation."
    )
    tolerance_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    api_base: ApiBase = Field(
        default="https://api.stripe.com",
        description="Stripe API origin; paths such as /v1/refunds are kept. "
        "Override it for a sandbox or a local simulator.",
    )


class StripeConnector(Connector):
    name: ClassVar[str] = "stripe"
    kind: ClassVar[ConnectorKind] = ConnectorKind.PAYMENT
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = StripeConfig
    events: ClassVar[dict[str, EventSpec]] = {
        "payment_intent.succeeded": EventSpec(
            "payment_intent.succeeded",
            mapping.to_canonical_payment_succeeded,
            ("payment.captured",),
        ),
        "payment_intent.payment_failed": EventSpec(
            "payment_intent.payment_failed",
            mapping.to_canonical_payment_failed,
            ("payment.failed",),
        ),
        "charge.refunded": EventSpec(
            "charge.refunded", mapping.to_canonical_charge_refunded, ("payment.refunded",)
        ),
        "charge.dispute.created": EventSpec(
            "charge.dispute.created", mapping.to_canonical_dispute, ("payment.disputed",)
        ),
    }
    accepts: ClassVar[tuple[str, ...]] = ("payment.refunded",)
    webhook_verifier = StripeSignatureVerifier(tolerance=300)

    @classmethod
    def webhook_event(cls, headers: Any, payload: Any) -> str:
        """Stripe names the event in the body: ``{"object": "event", "type": ...}``."""
        return cls._known_event(payload.get("type") if isinstance(payload, dict) else None)

    config: StripeConfig

    def verify_webhook(self, headers: Any, body: bytes, *, now: Any = None) -> None:
        StripeSignatureVerifier(tolerance=self.config.tolerance_seconds).verify(
            headers, body, self.webhook_secrets(), now=now
        )

    def base_url(self) -> str:
        return self.config.api_base

    def default_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {reveal(self.config.api_key)}"}

    def refund(
        self, payment_id: str, amount: Money, *, idempotency_key: str, reason: str | None = None
    ) -> str:
        """Refund ``amount`` of a payment; returns the Stripe refund id (``re_...``)."""
        response = self.http.request(
            "POST",
            "/v1/refunds",
            operation="refunds.create",
            data=mapping.from_canonical_refund(payment_id, amount, reason=reason),
            headers={"Idempotency-Key": idempotency_key},
        )
        return str(load_payload(response.content)["id"])
