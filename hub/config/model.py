"""The deployment file's model: tenants, their channels, locations, connector instances and routes.

Everything is closed (``extra="forbid"``): an unknown key is an error with a did-you-mean, never
ignored. Credentials are never values in this file, only references (``env:NAME`` or
``file:/run/secrets/name``) resolved at start-up; see :mod:`hub.config.secrets`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from canonical import ChannelKind, LocationKind
from hub.release.policy import ReleasePolicy
from router.governance import GovernanceConfig
from router.retry import RetryPolicy

__all__ = [
    "AdminConfig",
    "AdminToken",
    "BrokerConfig",
    "ChannelConfig",
    "ConnectorInstance",
    "Deployment",
    "IngressConfig",
    "LedgerConfig",
    "LocationConfig",
    "PollSchedule",
    "Route",
    "SecretReference",
    "TenantConfig",
]

_Closed = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
#: ``env:NAME`` or ``file:/path``: where a secret's value comes from at start-up.
SecretReference = Annotated[
    str,
    Field(
        pattern=r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$",
        description="env:NAME (an environment variable) or file:/path (a secrets file).",
        examples=["env:SHOPIFY_WEBHOOK_SECRET", "file:/run/secrets/shopify_token"],
    ),
]


class LocationConfig(BaseModel):
    """A stock location: a warehouse of the tenant's, a 3PL node or a store."""

    model_config = _Closed
    kind: LocationKind = LocationKind.WAREHOUSE
    name: str | None = None
    priority: Annotated[int, Field(ge=0, le=10_000)] = Field(
        default=100, description="Lower is preferred when sourcing allocations."
    )
    region: str | None = Field(default=None, description="Ship-from region, e.g. US-EAST.")
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


class ChannelConfig(BaseModel):
    """A sales channel and how much of the stock it may promise."""

    model_config = _Closed
    kind: ChannelKind
    stock_policy: dict[str, Any] = Field(
        default_factory=dict,
        description="The channel's stock policy (shared pool, protected quantity, percentage cap).",
    )


class PollSchedule(BaseModel):
    """How often the hub runs one of a connector's polls (see docs/deployment.md, polling)."""

    model_config = _Closed
    every_seconds: Annotated[int, Field(ge=10, le=86_400)] = Field(
        default=300, description="Time between the starts of two polls."
    )
    overlap_seconds: Annotated[int, Field(ge=0, le=7 * 86_400)] = Field(
        default=600,
        description="A windowed poll starts this long before the last high-water mark, for the "
        "vendor's clock and its late writes; what it reads twice is a duplicate.",
    )
    backfill_seconds: Annotated[int, Field(ge=60, le=30 * 86_400)] = Field(
        default=86_400,
        description="How far back the first windowed poll of an instance reads.",
    )


class ConnectorInstance(BaseModel):
    """One configured instance of a connector type, with its settings and secret references."""

    model_config = _Closed
    type: Annotated[
        str, Field(description="Connector type, e.g. shopify (see hub connectors list).")
    ]
    channel: Slug | None = Field(default=None, description="The channel an order connector feeds.")
    location: Slug | None = Field(default=None, description="The location a 3PL connector serves.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Non-secret settings.")
    secrets: dict[str, SecretReference | list[SecretReference]] = Field(
        default_factory=dict,
        description="Secret settings, by reference only; a list where the connector takes several "
        "(for example webhook secrets during a rotation).",
    )
    poll: dict[str, PollSchedule] = Field(
        default_factory=dict,
        description="The connector's polls to run on a schedule, by name (hub connectors list "
        "shows each connector's polls): orders for order channels, inventory for a 3PL.",
    )


class Route(BaseModel):
    """Which canonical events from where go to which destinations, under which rules."""

    model_config = _Closed
    name: str | None = None
    source: Annotated[
        str,
        Field(
            alias="from",
            description="A connector instance, * for any, or ledger for the ledger's own events "
            "(available-to-promise changes...) sent out to connector instances.",
        ),
    ]
    events: list[str] = Field(default_factory=lambda: ["*"], description="Canonical event types.")
    to: list[str] = Field(
        default_factory=lambda: ["ledger"],
        description="Destinations: ledger, or connector instances for outbound calls.",
    )
    governance: GovernanceConfig | None = None
    retry: RetryPolicy | None = None


class TenantConfig(BaseModel):
    model_config = _Closed
    channels: dict[Slug, ChannelConfig] = Field(default_factory=dict)
    locations: dict[Slug, LocationConfig] = Field(default_factory=dict)
    connectors: dict[Slug, ConnectorInstance] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    governance: GovernanceConfig = Field(
        default_factory=GovernanceConfig, description="Rules for routes that set none."
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    release: ReleasePolicy = Field(
        default_factory=ReleasePolicy,
        description="When and in which order allocated orders are released to their nodes "
        "(carrier cut-offs, capacity, priority, the spike guard); see docs/release.md.",
    )


class BrokerConfig(BaseModel):
    """Where raw messages travel between ingress and workers."""

    model_config = _Closed
    kind: Literal["embedded", "redis", "nats"] = "embedded"
    url: str | None = Field(
        default=None, description="redis://... or nats://...; not for embedded."
    )
    partitions: Annotated[int, Field(ge=1, le=256)] = 4
    batch_size: Annotated[int, Field(ge=1, le=5000)] = Field(
        default=200, description="Messages a worker reads and processes as one batch."
    )
    claim_idle_ms: Annotated[int, Field(ge=100, le=3_600_000)] = Field(
        default=30_000,
        description="How long an entry stays unacknowledged before another worker takes it over "
        "(longer than the slowest healthy batch).",
    )
    max_deliveries: Annotated[int, Field(ge=1, le=100)] = Field(
        default=8, description="Deliveries of one entry before it is dead-lettered."
    )
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:_-]{0,62}$")] = Field(
        default="hub",
        description="Key prefix of this hub's streams and idempotency keys on a shared server.",
    )


class LedgerConfig(BaseModel):
    model_config = _Closed
    url: str | None = Field(
        default=None, description="SQLite path or postgresql:// URL; the embedded file if absent."
    )


class IngressConfig(BaseModel):
    model_config = _Closed
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    max_json_depth: Annotated[int, Field(ge=4, le=128)] = 64


class AdminToken(BaseModel):
    """A bearer token of the admin API: who it is, what it may do, which tenants it sees."""

    model_config = _Closed
    name: Annotated[str, Field(min_length=1, max_length=64, description="Recorded as the actor.")]
    token: SecretReference = Field(description="The token, by reference (env:NAME or file:/path).")
    role: Literal["viewer", "operator", "admin"] = "viewer"
    tenants: list[str] = Field(
        default_factory=lambda: ["*"], description="Tenants the token may see; * for all."
    )


class AdminConfig(BaseModel):
    model_config = _Closed
    tokens: list[AdminToken] = Field(default_factory=list)


class TelemetryConfig(BaseModel):
    """Where the hub's OpenTelemetry traces go, and how many are kept."""

    model_config = _Closed
    exporter: Literal["none", "console", "otlp-http", "otlp-grpc"] = Field(
        default="none",
        description="none (no spans leave the process), console (stdout, for a look), or OTLP to "
        "a collector over HTTP/protobuf or gRPC.",
    )
    endpoint: str | None = Field(
        default=None,
        description="The collector: http://host:4318/v1/traces (otlp-http) or host:4317 "
        "(otlp-grpc). Default: the OTEL_EXPORTER_OTLP_* environment, then localhost.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Headers for the collector (e.g. an API key), each as env:NAME or "
        "file:/path, never inline.",
    )
    sample_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=1.0,
        description="Share of new traces kept; a trace started upstream keeps its sampling.",
    )
    service_name: str = "commerce-hub"


class Deployment(BaseModel):
    """A whole deployment file."""

    model_config = _Closed
    version: Literal[1] = 1
    tenants: dict[Slug, TenantConfig] = Field(default_factory=dict)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    ingress: IngressConfig = Field(default_factory=IngressConfig)
    admin: AdminConfig = Field(default_factory=AdminConfig)
