"""The hub's composition root: one deployment in, every concrete piece wired together.

This is the only place that chooses implementations: the ledger (SQLite or PostgreSQL by URL), the
operations store beside it, the catalogue cache, one connector object per configured instance, the
translation and webhook verification the router and the ingress need, the idempotency fast path
(Redis at scale, in memory when embedded) and the router itself. ``hub run``, ``hub ingress`` and
``hub worker`` all start from :func:`open_runtime`, so the embedded default and the scaled
deployment share one code path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from canonical import Envelope
from connectors.base import Connector, load_payload
from connectors.spec import TranslationContext
from hub.catalog import LedgerCatalog
from hub.config.model import Deployment, Route, TenantConfig
from hub.config.secrets import resolve_reference
from hub.config.validate import secret_fields
from hub.ledger.policy import ChannelRule, ChannelStockPolicy, LedgerPolicy
from hub.ledger.store import Ledger
from hub.ledger.url import default_ledger_path, open_database, parse_ledger_url, resolve_ledger_url
from hub.operations import OperationsStore
from router.errors import UnroutableError
from router.governance import GovernanceConfig
from router.idempotency import FastPath, LocalFastPath
from router.pipeline import Router, RouterConfig
from router.ports import RawMessage

__all__ = ["HubRuntime", "connector_instances", "embedded_inbox_path", "open_runtime"]


def embedded_inbox_path(ledger_url: str) -> Path:
    """The embedded inbox lives next to a SQLite ledger (or in the default data folder)."""
    target = parse_ledger_url(ledger_url)
    if target.kind == "sqlite":
        return Path(target.location).expanduser().with_name("inbox.sqlite3")
    return default_ledger_path().with_name("inbox.sqlite3")


def connector_instances(
    deployment: Deployment,
    registry: Mapping[str, type[Connector]],
    *,
    environ: Mapping[str, str] | None = None,
    transports: Mapping[str, Any] | None = None,
) -> dict[tuple[str, str], Connector]:
    """One connector object per configured instance, with its secrets resolved."""
    environ = os.environ if environ is None else environ
    built: dict[tuple[str, str], Connector] = {}
    for tenant_name, tenant in deployment.tenants.items():
        for instance_name, instance in tenant.connectors.items():
            cls = registry[instance.type]
            secrets = secret_fields(cls.config_model)
            values: dict[str, Any] = {
                k: v for k, v in instance.settings.items() if k not in secrets
            }
            for key, reference in instance.secrets.items():
                values[key] = (
                    [resolve_reference(r, environ) for r in reference]
                    if isinstance(reference, list)
                    else resolve_reference(reference, environ)
                )
            transport = (transports or {}).get(instance_name)
            built[(tenant_name, instance_name)] = cls(values, transport=transport)
    return built


@dataclass
class DeploymentTranslator:
    """The router's :class:`~router.ports.Translator`: the instance's connector, purely."""

    instances: Mapping[tuple[str, str], Connector]
    locations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def translate(self, raw: RawMessage) -> list[Envelope]:
        connector = self.instances.get((raw.tenant, raw.instance))
        if connector is None:
            raise UnroutableError(
                f"no connector instance {raw.instance!r} for tenant {raw.tenant!r} in this deployment"
            )
        context = TranslationContext(
            tenant=raw.tenant,
            instance=raw.instance,
            received_at=raw.received_at,
            locations=self.locations.get(raw.tenant, {}),
        )
        return type(connector).translate(raw.event, load_payload(raw.body), context)


async def call_connector(function: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run a (synchronous) connector call in a thread, its transient failures translated.

    The one place where connector errors meet the router's: ``RateLimited`` becomes
    ``RateLimitedError`` (keeping Retry-After), any other ``RetriableError`` a ``TransientError``;
    everything else is raised unchanged for the caller to judge.
    """
    import asyncio

    from connectors.errors import RateLimited, RetriableError
    from router.errors import RateLimitedError, TransientError

    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except RateLimited as exc:
        raise RateLimitedError(str(exc), retry_after=exc.retry_after) from exc
    except RetriableError as exc:
        raise TransientError(str(exc)) from exc


@dataclass
class DeploymentTaxQuoter:
    """The router's tax quoter: the tenant's tax-engine connector (kind ``tax``), if it has one.

    Connector failures are translated here, at the boundary: a transient one (timeout, 5xx, 429)
    becomes the router's ``TransientError``, which the tax rule turns into an exception hold
    ("never ship with a guessed tax"); with no tax connector the rule holds the order too.
    """

    instances: Mapping[tuple[str, str], Connector]

    def engine_for(self, tenant: str) -> tuple[str, Connector] | None:
        for (owner, name), connector in sorted(self.instances.items()):
            if owner == tenant and type(connector).kind.value == "tax":
                return name, connector
        return None

    async def quote(self, order: Any) -> Any:
        from connectors.errors import ConnectorError
        from router.errors import PermanentError, TransientError

        found = self.engine_for(order.tenant)
        if found is None:
            raise TransientError(f"tenant {order.tenant!r} has no tax engine connector")
        name, connector = found
        context = TranslationContext(
            tenant=order.tenant, instance=name, received_at=datetime.now(UTC)
        )
        try:
            envelope = await call_connector(connector.quote, order, context)  # type: ignore[attr-defined]
        except ConnectorError as exc:  # refused, or an answer that does not translate
            raise PermanentError(str(exc)) from exc
        return envelope.payload


@dataclass(frozen=True)
class ConnectorReceiver:
    """The ingress's view of one connector instance: verify a delivery, name its event."""

    connector: Connector

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        self.connector.verify_webhook(headers, body)

    def event_name(self, headers: Mapping[str, str], payload: Any) -> str:
        return type(self.connector).webhook_event(headers, payload)

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return type(self.connector).is_ping(headers, body)


def _route_for(tenant: TenantConfig, envelope: Envelope) -> Route | None:
    for route in tenant.routes:
        source_ok = route.source in ("*", envelope.source.instance)
        event_ok = "*" in route.events or envelope.event_type in route.events
        if source_ok and event_ok:
            return route
    return None


def governance_for(deployment: Deployment) -> Any:
    """The rules of the route an envelope travels (the tenant's default when no route sets any)."""

    def choose(envelope: Envelope) -> GovernanceConfig:
        tenant = deployment.tenants.get(envelope.tenant)
        if tenant is None:
            return GovernanceConfig()
        route = _route_for(tenant, envelope)
        if route is not None and route.governance is not None:
            return route.governance
        return tenant.governance

    return choose


def ledger_policy(deployment: Deployment) -> LedgerPolicy:
    """Channel stock policies from the deployment (``stock_policy`` of each channel)."""
    rules: dict[str, ChannelRule] = {}
    for tenant in deployment.tenants.values():
        for channel, config in tenant.channels.items():
            if config.stock_policy:
                rules[channel] = ChannelRule.model_validate(config.stock_policy)
    return LedgerPolicy(channels=ChannelStockPolicy(rules=rules))


@dataclass
class HubRuntime:
    deployment: Deployment
    ledger_url: str
    ledger: Ledger
    operations: OperationsStore
    catalog: LedgerCatalog
    instances: dict[tuple[str, str], Connector]
    router: Router
    _ops_db: Any = None
    _catalog_db: Any = None
    _tax_quoter: DeploymentTaxQuoter | None = None

    def receiver(self, tenant: str, instance: str) -> ConnectorReceiver | None:
        connector = self.instances.get((tenant, instance))
        if connector is None or type(connector).webhook_verifier is None:
            return None
        return ConnectorReceiver(connector)

    def apply_deployment(
        self,
        deployment: Deployment,
        *,
        environ: Mapping[str, str] | None = None,
        registry: Mapping[str, type[Connector]] | None = None,
    ) -> None:
        """Switch to another deployment without a restart (``hub deploy``).

        New connector objects, rules and stock policies take effect from the next batch; the batch
        in progress finishes on the old ones, and messages waiting in the transport are neither
        dropped nor repeated by the switch.
        """
        if registry is None:
            from connectors.registry import discover

            registry = discover()
        instances = connector_instances(deployment, registry, environ=environ)
        _load_master_data(self.ledger, deployment)
        self.ledger.policy = ledger_policy(deployment)
        previous = self.instances
        self.instances = instances
        self.deployment = deployment
        if self._tax_quoter is not None:  # quotes from the new deployment's tax engine
            self._tax_quoter.instances = instances
        self.router.reconfigure(
            translator=DeploymentTranslator(instances),
            config=RouterConfig(governance=governance_for(deployment)),
        )
        self.catalog.reload()
        for connector in previous.values():
            connector.close()

    def close(self) -> None:
        for connector in self.instances.values():
            connector.close()
        self.ledger.close()
        if self._ops_db is not None:
            self._ops_db.close()
        if self._catalog_db is not None:  # the catalogue's own connection (PostgreSQL leaked it)
            self._catalog_db.close()


def _load_master_data(ledger: Ledger, deployment: Deployment) -> None:
    for tenant_name, tenant in deployment.tenants.items():
        for channel, channel_config in tenant.channels.items():
            ledger.upsert_channel(tenant_name, channel, kind=channel_config.kind.value)
        for location, location_config in tenant.locations.items():
            ledger.upsert_location(
                tenant_name,
                location,
                kind=location_config.kind.value,
                region=location_config.region,
                priority=location_config.priority,
            )


def open_runtime(
    deployment: Deployment,
    *,
    ledger_url: str | None = None,
    registry: Mapping[str, type[Connector]] | None = None,
    environ: Mapping[str, str] | None = None,
    fast_path: FastPath | None = None,
    transports: Mapping[str, Any] | None = None,
    auto_migrate: bool | None = None,
) -> HubRuntime:
    """Open every concrete piece the deployment names."""
    if registry is None:
        from connectors.registry import discover

        registry = discover()
    url = resolve_ledger_url(ledger_url or deployment.ledger.url)
    ledger = Ledger(url, policy=ledger_policy(deployment), auto_migrate=auto_migrate)
    _load_master_data(ledger, deployment)
    ops_db: Any = open_database(url)
    operations = OperationsStore(ops_db)
    catalog_db: Any = open_database(url)
    catalog = LedgerCatalog(lambda sql: catalog_db.query(sql))
    instances = connector_instances(deployment, registry, environ=environ, transports=transports)
    tax_quoter = DeploymentTaxQuoter(instances)
    router = Router(
        translator=DeploymentTranslator(instances),
        ledger=ledger,
        catalog=catalog,
        fast_path=fast_path or LocalFastPath(),
        dead_letters=operations,
        holds=operations,
        audit=operations,
        config=RouterConfig(governance=governance_for(deployment)),
        tax_quoter=tax_quoter,
    )
    return HubRuntime(
        deployment=deployment,
        ledger_url=url,
        ledger=ledger,
        operations=operations,
        catalog=catalog,
        instances=instances,
        router=router,
        _ops_db=ops_db,
        _catalog_db=catalog_db,
        _tax_quoter=tax_quoter,
    )
