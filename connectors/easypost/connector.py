"""EasyPost carrier connector: tracker webhooks in, label purchase out.

Webhooks carry ``X-Hmac-Signature: hmac-sha256-hex=<hex>``, an HMAC-SHA256 of the raw body keyed
with the webhook secret normalised to Unicode NFKD (as EasyPost's own client libraries do). There is
no timestamp, so replays are caught by the idempotency key, not the signature.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr

from canonical.fulfillment import Package
from connectors.base import Connector, load_payload
from connectors.easypost import mapping
from connectors.secrets import reveal
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec
from connectors.webhooks import HmacBodyVerifier, nfkd

__all__ = ["EasyPostConfig", "EasyPostConnector"]


class EasyPostConfig(ConnectorConfig):
    api_key: SecretStr = Field(description="EasyPost API key (EZAK... production, EZTK... test).")
    webhook_secrets: Annotated[list[SecretStr], Field(min_length=1, max_length=3)] = Field(
        description="The webhook secret(s) set on the EasyPost webhook; two during a rotation."
    )
    api_base: ApiBase = Field(
        default="https://api.easypost.com",
        description="EasyPost API origin; paths such as /v2/shipments are kept. "
        "Override it for a sandbox or a local simulator.",
    )


class EasyPostConnector(Connector):
    name: ClassVar[str] = "easypost"
    kind: ClassVar[ConnectorKind] = ConnectorKind.CARRIER
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = EasyPostConfig
    events: ClassVar[dict[str, EventSpec]] = {
        name: EventSpec(name, mapping.to_canonical_tracking_event, ("tracking.updated",))
        for name in ("tracker.created", "tracker.updated")
    }
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested",)
    webhook_verifier = HmacBodyVerifier(
        "X-Hmac-Signature", encoding="hex", prefix="hmac-sha256-hex=", key_transform=nfkd
    )

    @classmethod
    def webhook_event(cls, headers: Any, payload: Any) -> str:
        """EasyPost names the event in the body's ``description`` (``tracker.updated``)."""
        return cls._known_event(payload.get("description") if isinstance(payload, dict) else None)

    config: EasyPostConfig

    def base_url(self) -> str:
        return self.config.api_base

    def default_headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{reveal(self.config.api_key)}:".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def buy_label(self, shipment_id: str, rate_id: str) -> Package:
        """Buy the label for ``rate_id`` of a created shipment; returns the package it made."""
        response = self.http.request(
            "POST",
            f"/v2/shipments/{shipment_id}/buy",
            operation="shipments.buy",
            json={"rate": {"id": rate_id}},
        )
        return mapping.to_canonical_package(load_payload(response.content))
