"""What a connector declares about itself: kind, events, configuration.

A connector is mostly declarations (as in the Meltano Singer SDK): a name, a :class:`ConnectorKind`,
a version, the vendor events it translates (each with the canonical events it may emit), the
canonical events it accepts outbound, and a pydantic configuration model. The configuration model is
exported as JSON Schema, so a deployment file can be validated before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.errors import ConnectorConfigError

if TYPE_CHECKING:
    from canonical.envelope import Envelope

__all__ = [
    "ConnectorConfig",
    "ConnectorKind",
    "EventSpec",
    "Slug",
    "TranslationContext",
    "Translator",
    "config_error_message",
]

#: The slug shape of tenants, instances, channels and locations in the canonical model.
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class ConnectorKind(StrEnum):
    """What kind of system a connector talks to; the hub treats kinds differently."""

    STOREFRONT = "storefront"
    MARKETPLACE = "marketplace"
    THREE_PL = "3pl"
    CARRIER = "carrier"
    TAX = "tax"
    PAYMENT = "payment"
    ERP = "erp"

    @property
    def takes_orders(self) -> bool:
        """Order channels must pass the kit's commerce behaviours and run a reconciliation poll."""
        return self in (ConnectorKind.STOREFRONT, ConnectorKind.MARKETPLACE)


class ConnectorConfig(BaseModel):
    """Base of every connector configuration: closed (a typo is an error) and immutable.

    Credentials are ``SecretStr`` fields so they never print.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        default=15.0, description="Per-request timeout for outbound calls."
    )
    max_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=4, description="Attempts per outbound call, counting the first one."
    )


def config_error_message(connector: str, error: ValidationError) -> str:
    """A readable, secret-free summary of a config validation error: one line per bad field."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in problem["loc"]) or "(config)"
        lines.append(f"{location}: {problem['msg']}")
    return f"invalid {connector} configuration: " + "; ".join(lines)


def parse_config(connector: str, model: type[ConnectorConfig], data: Any) -> ConnectorConfig:
    """Validate ``data`` into ``model``, turning pydantic's error into a ConnectorConfigError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConnectorConfigError(
            config_error_message(connector, exc), connector=connector
        ) from None


@dataclass(frozen=True, slots=True)
class TranslationContext:
    """Everything a translation needs that is not in the payload; no clock, no I/O.

    ``received_at`` comes from the ingress (or ``--received-at``), never from ``datetime.now()``,
    so translating the same payload twice gives byte-identical envelopes. ``locations`` maps a
    vendor's location id to the hub's location slug; unmapped ids become ``<connector>_<id>``.
    """

    tenant: str
    instance: str
    received_at: datetime
    locations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must carry a time zone")


#: A pure translation: vendor payload (parsed JSON) in, canonical envelopes out.
Translator = Callable[[Any, TranslationContext], "list[Envelope]"]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One vendor event (webhook topic, notification type or API operation) a connector translates.

    ``emits`` lists the canonical event types its envelopes may carry; the kit checks that the
    translation never emits anything else.
    """

    name: str
    translate: Translator
    emits: tuple[str, ...]
    description: str = ""
    source: str = "webhook"  # webhook | poll | response
