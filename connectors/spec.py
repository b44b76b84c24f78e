"""What a connector declares about itself: kind, events, configuration.

A connector is mostly declarations (as in the Meltano Singer SDK): a name, a :class:`ConnectorKind`,
a version, the vendor events it translates (each with the canonical events it may emit), the
canonical events it accepts outbound, and a pydantic configuration model. The configuration model is
exported as JSON Schema, so a deployment file can be validated before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from connectors.errors import ConnectorConfigError

if TYPE_CHECKING:
    from canonical.envelope import Envelope

__all__ = [
    "API_BASE_PATTERN",
    "LOOPBACK_HOSTS",
    "ApiBase",
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

#: Hosts that may be reached over plain http (a local vendor simulator); everything else is https.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

#: The JSON Schema form of :data:`ApiBase`, so ``hub validate`` refuses what the model refuses.
API_BASE_PATTERN = (
    r"^(https://([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])"
    r"|http://(127\.0\.0\.1|\[::1\]|localhost))(:[0-9]{1,5})?(/[^\s?#]*)?$"
)
_API_BASE = re.compile(API_BASE_PATTERN)


def _check_api_base(value: str) -> str:
    """Refuse anything but an https origin (plus optional path), or plain http on loopback."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(
            "must be an absolute https:// URL (http:// only for 127.0.0.1, ::1 or localhost)"
        )
    if "@" in parts.netloc:
        raise ValueError("must not carry credentials; put them in the credential fields")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError("must not have a query string or a fragment")
    host = parts.hostname or ""
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost), "
            f"not {host!r}; use https://"
        )
    try:
        parts.port  # noqa: B018 - urlsplit checks the port's range when it is read
    except ValueError:
        raise ValueError("has an invalid port") from None
    if not _API_BASE.fullmatch(value):
        raise ValueError("is not a valid base URL (scheme://host[:port][/path], lower-case scheme)")
    return value.rstrip("/")


#: A vendor API base URL that a deployment may override (a sandbox, or a local vendor simulator):
#: https, or plain http for a loopback host only; no credentials, query or fragment; a trailing
#: ``/`` is dropped. Each connector documents which part of its URLs the override replaces.
ApiBase = Annotated[
    str,
    AfterValidator(_check_api_base),
    WithJsonSchema({"type": "string", "pattern": API_BASE_PATTERN}),
]


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
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=30.0,
        description="After a push whose answer was lost (a timeout once sent), how long the "
        "vendor may still apply it: the hub sends the current level again that long after the "
        "next push that succeeds, so a late write of an older level does not stick. 0: never.",
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
