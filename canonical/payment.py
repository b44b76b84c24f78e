"""Payment events from a payment provider: authorised, captured, refunded, failed, disputed."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from canonical._base import CanonicalModel, Text, Timestamp
from canonical.identifiers import ExternalId, TenantId
from canonical.money import PositiveMoney
from canonical.order import OrderRef

__all__ = ["PaymentEvent", "PaymentEventKind"]


class PaymentEventKind(StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    REFUNDED = "refunded"
    FAILED = "failed"
    DISPUTED = "disputed"


class PaymentEvent(CanonicalModel):
    """Something that happened to money for an order at a payment provider."""

    schema_name = "payment_event"
    schema_major = 1
    type: Literal["payment_event"] = "payment_event"

    tenant: TenantId
    kind: PaymentEventKind
    provider: Annotated[str, Field(min_length=1, max_length=64)]
    payment_id: ExternalId = Field(description="The provider's payment (intent or charge) id.")
    transaction_id: ExternalId | None = Field(
        default=None, description="The provider's id of this refund, capture or dispute."
    )
    order: OrderRef | None = Field(
        default=None, description="The order paid for, when the provider metadata names it."
    )
    amount: PositiveMoney
    occurred_at: Timestamp
    failure_code: Annotated[str, Field(max_length=128)] | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _failure_code_only_on_failure(self) -> Self:
        if self.failure_code is not None and self.kind is not PaymentEventKind.FAILED:
            raise ValueError("failure_code is only for failed payments")
        return self
