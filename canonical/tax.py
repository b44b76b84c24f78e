"""Tax: a quote from the tax engine before the order is accepted, and the commit once invoiced.

The quote is what governance compares the channel's tax against; the commit records the tax as
reported to the authority (Avalara's SalesInvoice). The two carry the engine's document code so the
commit can be matched to its quote.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from canonical._base import CanonicalModel, Timestamp
from canonical.identifiers import ExternalId, TenantId
from canonical.money import CurrencyCode, Money, NonNegativeMoney
from canonical.order import OrderRef, Rate

__all__ = ["TaxCommit", "TaxJurisdictionDetail", "TaxQuote", "TaxQuoteLine"]

_Text255 = Annotated[str, Field(max_length=255)]


class TaxJurisdictionDetail(CanonicalModel):
    jurisdiction: _Text255
    jurisdiction_type: _Text255 | None = None
    rate: Rate
    tax: NonNegativeMoney
    taxable: NonNegativeMoney


class TaxQuoteLine(CanonicalModel):
    line_id: ExternalId = Field(description="The order line (or shipping line) quoted.")
    taxable_amount: NonNegativeMoney
    tax: NonNegativeMoney
    details: Annotated[list[TaxJurisdictionDetail], Field(max_length=50)] = []


class TaxQuote(CanonicalModel):
    """The tax engine's answer for an order: tax per line and in total."""

    schema_name = "tax_quote"
    schema_major = 1
    type: Literal["tax_quote"] = "tax_quote"

    tenant: TenantId
    order: OrderRef
    provider: Annotated[str, Field(min_length=1, max_length=64)]
    document_code: ExternalId = Field(description="The engine's id of the quote document.")
    currency: CurrencyCode
    lines: Annotated[list[TaxQuoteLine], Field(max_length=500)]
    total_tax: NonNegativeMoney
    quoted_at: Timestamp

    @model_validator(mode="after")
    def _lines_sum_to_total(self) -> Self:
        summed = Money.sum((line.tax for line in self.lines), self.currency)
        if summed != self.total_tax:
            raise ValueError(
                f"total_tax is {self.total_tax.amount} but the lines sum to {summed.amount}"
            )
        return self


class TaxCommit(CanonicalModel):
    """A quote made final (recorded for filing) once the order is invoiced."""

    schema_name = "tax_commit"
    schema_major = 1
    type: Literal["tax_commit"] = "tax_commit"

    tenant: TenantId
    order: OrderRef
    provider: Annotated[str, Field(min_length=1, max_length=64)]
    document_code: ExternalId
    total_tax: NonNegativeMoney
    committed_at: Timestamp
