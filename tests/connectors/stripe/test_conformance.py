"""Stripe through the conformance kit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from canonical.money import Money
from connectors.stripe import StripeConnector
from connectors.testing import ConnectorConformance, OutboundCase, Sample, samples_from

FIXTURES = Path(__file__).parent / "fixtures"
CONFIG: dict[str, Any] = {
    "api_key": "sk_test_51PgafmB7WZ01zgkWabcdefghijklmnop",
    "webhook_secrets": ["whsec_new_0123456789abcdef", "whsec_old_fedcba9876543210"],
    "max_attempts": 3,
}


class TestStripeConformance(ConnectorConformance):
    connector = StripeConnector
    valid_config = CONFIG
    invalid_configs = [
        {**CONFIG, "webhook_secrets": []},
        {**CONFIG, "tolerance_seconds": 5},
        {**CONFIG, "api_base": "http://api.stripe.com"},
    ]
    samples = samples_from(
        FIXTURES,
        {
            "payment_intent_succeeded.json": "payment_intent.succeeded",
            "payment_intent_succeeded_jpy.json": "payment_intent.succeeded",
            "payment_intent_payment_failed.json": "payment_intent.payment_failed",
            "charge_refunded_partial.json": "charge.refunded",
            "charge_refunded_second_unexpanded.json": "charge.refunded",
            "charge_dispute_created.json": "charge.dispute.created",
        },
    )
    webhook_body = (FIXTURES / "payment_intent_succeeded.json").read_bytes()
    outbound = [
        OutboundCase(
            name="refunds.create",
            method="POST",
            url="https://api.stripe.com/v1/refunds",
            call=lambda c: c.refund(  # type: ignore[attr-defined]
                "pi_3PgcB2B7WZ01zgkW0mV1x2yZ",
                Money(amount=Decimal("23.40"), currency="USD"),
                idempotency_key="v1:abc",
            ),
            ok=lambda: httpx.Response(
                200, json={"id": "re_3PgcB2B7WZ01zgkW0rEfUnD1", "object": "refund", "amount": 2340}
            ),
        )
    ]
    waivers = {"pagination": "the Stripe connector reads no Stripe lists; events are pushed"}

    def change(self, sample: Sample, payload: Any) -> Any:
        """A genuinely different fact: another intent, another failed attempt, refund, dispute."""
        obj = payload["data"]["object"]
        if sample.event == "charge.refunded":
            if "refunds" in obj:
                obj["refunds"]["data"][0]["id"] = "re_3PgcB2B7WZ01zgkW0rEfUnD2"
            else:
                obj["amount_refunded"] += 100
        elif sample.event == "payment_intent.payment_failed":
            obj["last_payment_error"]["charge"] = "ch_3PgcD1B7WZ01zgkW0fAiLeD2"
        else:
            obj["id"] += "2"
        return payload
