"""Avalara AvaTax tax connector: quote an order (SalesOrder) and commit it once invoiced.

``quote`` never invents a tax: if AvaTax cannot be reached (after the shared client's retries) or
refuses the request, it raises the typed :class:`~connectors.errors.ConnectorError`, and the caller
sends the order to the exception queue instead of shipping it with a guessed tax.
``commit`` uses ``transactions/createoradjust``, so a retry after a lost response adjusts the same
document instead of failing as a duplicate or recording it twice.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr

from canonical.envelope import Envelope
from canonical.order import Order
from canonical.party import Address
from connectors.avalara import mapping
from connectors.base import Connector, dump_payload, load_payload
from connectors.secrets import reveal
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec, TranslationContext

__all__ = ["AvalaraConfig", "AvalaraConnector"]

JSON = {"Content-Type": "application/json"}


class AvalaraConfig(ConnectorConfig):
    account_id: Annotated[str, Field(pattern=r"^\d{6,12}$")]
    license_key: SecretStr
    company_code: Annotated[str, Field(min_length=1, max_length=25)]
    environment: Annotated[str, Field(pattern=r"^(sandbox|production)$")] = "sandbox"
    ship_from: dict[str, str] = Field(
        description="The warehouse address taxes are sourced from (line1, city, region, "
        "postal_code, country)."
    )
    api_base: ApiBase | None = Field(
        default=None,
        description="Replaces the environment's origin (https://sandbox-rest.avatax.com or "
        "https://rest.avatax.com), e.g. for a local simulator; the path /api/v2/ is kept.",
    )


class AvalaraConnector(Connector):
    name: ClassVar[str] = "avalara"
    kind: ClassVar[ConnectorKind] = ConnectorKind.TAX
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = AvalaraConfig
    events: ClassVar[dict[str, EventSpec]] = {
        name: EventSpec(
            name, mapping.translate_transaction, ("tax.quoted", "tax.committed"), source="response"
        )
        for name in ("CreateTransaction", "CreateOrAdjustTransaction")
    }
    accepts: ClassVar[tuple[str, ...]] = ("order.created", "order.updated")

    config: AvalaraConfig

    def base_url(self) -> str:
        host = "sandbox-rest" if self.config.environment == "sandbox" else "rest"
        origin = self.config.api_base or f"https://{host}.avatax.com"
        return f"{origin}/api/v2/"

    def default_headers(self) -> dict[str, str]:
        pair = f"{self.config.account_id}:{reveal(self.config.license_key)}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    def _ship_from(self) -> Address:
        return Address(**self.config.ship_from)

    def quote(self, order: Order, ctx: TranslationContext) -> Envelope:
        """The engine's tax for ``order`` as a ``tax.quoted`` envelope; raises, never guesses."""
        body = mapping.from_canonical_order(
            order, company_code=self.config.company_code, ship_from=self._ship_from(), commit=False
        )
        response = self.http.request(
            "POST", "transactions/create", operation="CreateTransaction",
            content=dump_payload(body), headers=JSON,
        )  # fmt: skip
        (envelope,) = mapping.translate_transaction(load_payload(response.content), ctx)
        return envelope

    def commit(self, order: Order, ctx: TranslationContext) -> Envelope:
        """Record the invoiced order's tax (SalesInvoice, committed); ``tax.committed``."""
        body = mapping.from_canonical_order(
            order, company_code=self.config.company_code, ship_from=self._ship_from(), commit=True
        )
        response = self.http.request(
            "POST", "transactions/createoradjust", operation="CreateOrAdjustTransaction",
            content=dump_payload({"createTransactionModel": body}), headers=JSON,
        )  # fmt: skip
        envelopes: list[Any] = mapping.translate_transaction(load_payload(response.content), ctx)
        return envelopes[0]  # type: ignore[no-any-return]
