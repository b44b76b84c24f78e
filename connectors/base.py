"""The :class:`Connector` base class: declarations plus a few small hooks.

A connector subclass sets class attributes (``name``, ``kind``, ``version``, ``config_model``,
``events``, ``accepts``, ``webhook_verifier``) and implements outbound operations as methods that
use :attr:`Connector.http`. Translation lives in the connector's ``mapping`` module as pure
functions; the connector only points at them through :class:`~connectors.spec.EventSpec`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from canonical.envelope import Envelope
from canonical.events import EVENT_TYPES
from canonical.fulfillment import FulfillmentCancellation, FulfillmentRequest
from connectors.errors import MissingExternalIdError, TranslationError, UnknownEventError
from connectors.http import HttpClient, RateLimitPolicy
from connectors.pagination import TimeWindow
from connectors.polling import PollSpec, UnknownPollError
from connectors.spec import (
    ConnectorConfig,
    ConnectorKind,
    EventSpec,
    TranslationContext,
    parse_config,
)
from connectors.webhooks import WebhookVerifier, get_header

__all__ = ["Connector", "dump_payload", "load_payload"]


def load_payload(raw: bytes | str) -> Any:
    """Parse a vendor JSON body exactly: big integers stay exact ints, decimals become Decimal.

    Python's json keeps integers exact (Shopify ids above 2^53 survive); ``parse_float=Decimal``
    keeps vendors that send money as JSON numbers (Avalara) from passing through a float.
    """
    try:
        return json.loads(raw, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TranslationError(f"not valid JSON ({exc})", field="(body)") from None


def dump_payload(value: Any) -> bytes:
    """JSON bytes in which Decimals are written as exact JSON numbers (never through a float).

    For vendors that want numbers, not strings, for amounts (Avalara). Each Decimal is swapped for
    a unique placeholder string, the document is dumped, and the placeholders are replaced by the
    Decimal's own text.
    """
    numbers: dict[str, str] = {}

    def swap(node: Any) -> Any:
        if isinstance(node, Decimal):
            if not node.is_finite():
                raise ValueError("JSON numbers must be finite")
            token = f"\u0000decimal{len(numbers)}\u0000"
            numbers[json.dumps(token)] = format(node, "f")
            return token
        if isinstance(node, dict):
            return {key: swap(item) for key, item in node.items()}
        if isinstance(node, list | tuple):
            return [swap(item) for item in node]
        if isinstance(node, float):
            raise TypeError("refusing to serialise a float; use Decimal")
        return node

    text = json.dumps(swap(value), separators=(",", ":"))
    for token, number in numbers.items():
        text = text.replace(token, number)
    return text.encode()


class Connector:
    """Base of every connector. Subclasses are declarations plus outbound methods."""

    name: ClassVar[str]
    kind: ClassVar[ConnectorKind]
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    #: Vendor event name -> how to translate it.
    events: ClassVar[Mapping[str, EventSpec]] = {}
    #: Canonical event types this connector acts on outbound (e.g. availability.changed).
    accepts: ClassVar[tuple[str, ...]] = ()
    #: How inbound webhooks are signed, or None when the vendor does not push.
    webhook_verifier: ClassVar[WebhookVerifier | None] = None

    def __init__(
        self,
        config: ConnectorConfig | Mapping[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = (
            config if isinstance(config, self.config_model) else self.parse_config(config)  # type: ignore[arg-type]
        )
        self._transport = transport
        self._sleep = sleep
        self._http: HttpClient | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"

    # -- declarations -----------------------------------------------------------------------------

    @classmethod
    def emits(cls) -> tuple[str, ...]:
        """Every canonical event type the connector's translations may emit."""
        return tuple(sorted({e for spec in cls.events.values() for e in spec.emits}))

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """The configuration model as JSON Schema (2020-12), for validating deployment files."""
        schema = cls.config_model.model_json_schema(mode="validation")
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}

    @classmethod
    def parse_config(cls, data: Mapping[str, Any]) -> ConnectorConfig:
        """Validate a configuration; raises ConnectorConfigError listing each bad field."""
        return parse_config(cls.name, cls.config_model, data)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The declaration as JSON-ready data (``hub connectors list --json``)."""
        return {
            "name": cls.name,
            "kind": cls.kind.value,
            "version": cls.version,
            "events": {
                name: {"emits": list(spec.emits), "source": spec.source}
                for name, spec in sorted(cls.events.items())
            },
            "emits": list(cls.emits()),
            "accepts": list(cls.accepts),
            "webhooks": cls.webhook_verifier is not None,
            "polls": {
                name: {"event": spec.event, "windowed": spec.windowed}
                for name, spec in sorted(cls.poll_specs().items())
            },
        }

    @classmethod
    def check_declaration(cls) -> list[str]:
        """Problems with the declaration itself (unknown canonical events, bad name...)."""
        problems = []
        if not getattr(cls, "name", "") or not cls.name.replace("_", "").isalnum():
            problems.append("name must be a snake_case identifier")
        if not isinstance(getattr(cls, "kind", None), ConnectorKind):
            problems.append("kind must be a ConnectorKind")
        for event in (*cls.emits(), *cls.accepts):
            if event not in EVENT_TYPES:
                problems.append(f"{event!r} is not a canonical event type")
        for name, spec in cls.events.items():
            if spec.name != name:
                problems.append(f"events[{name!r}] is declared with name {spec.name!r}")
        for name, poll in cls.poll_specs().items():
            if poll.name != name:
                problems.append(f"poll {name!r} is declared with name {poll.name!r}")
            if poll.event not in cls.events:
                problems.append(
                    f"poll {name!r} translates its items as {poll.event!r}, not an event"
                )
        return problems

    # -- inbound ----------------------------------------------------------------------------------

    @classmethod
    def translate(cls, event: str, payload: Any, ctx: TranslationContext) -> list[Envelope]:
        """Translate one vendor payload (parsed JSON) into canonical envelopes; pure."""
        spec = cls.events.get(event)
        if spec is None:
            known = ", ".join(sorted(cls.events)) or "none"
            raise UnknownEventError(
                f"unknown event {event!r}; {cls.name} translates: {known}", connector=cls.name
            )
        try:
            envelopes = spec.translate(payload, ctx)
        except TranslationError as exc:
            exc.connector = exc.connector or cls.name
            exc.operation = exc.operation or event
            raise
        for envelope in envelopes:
            if envelope.event_type not in spec.emits:
                raise TranslationError(
                    f"{event} emitted {envelope.event_type!r}, which it does not declare",
                    field="(declaration)",
                    connector=cls.name,
                    operation=event,
                )
        return envelopes

    #: The delivery header naming the vendor event (Shopify's X-Shopify-Topic), when there is one.
    webhook_topic_header: ClassVar[str | None] = None

    @staticmethod
    def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a delivery is the vendor's unsigned check of a new webhook URL.

        Some vendors (WooCommerce: ``webhook_id=N``, form-encoded, no signature) call the URL once
        before they sign anything and refuse to create the webhook unless it answers 2xx. The
        ingress answers such a ping 200 and stores nothing. Most vendors have none: False.
        """
        return False

    @classmethod
    def webhook_event(cls, headers: Mapping[str, str], payload: Any) -> str:
        """The vendor event name of a verified delivery, from its topic header or its body.

        The default reads :attr:`webhook_topic_header`; vendors that name the event inside the
        body (Stripe's ``type``, EasyPost's ``description``) override this. Raises
        UnknownEventError when the delivery names no event this connector translates.
        """
        name = None
        if cls.webhook_topic_header is not None:
            name = get_header(headers, cls.webhook_topic_header)
        return cls._known_event(name)

    @classmethod
    def _known_event(cls, name: Any) -> str:
        if not isinstance(name, str) or name not in cls.events:
            known = ", ".join(sorted(cls.events)) or "none"
            raise UnknownEventError(
                f"the delivery names event {name!r}; {cls.name} translates: {known}",
                connector=cls.name,
            )
        return name

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> None:
        """Verify a delivery's signature on the raw body; raises WebhookVerificationError."""
        if self.webhook_verifier is None:
            raise NotImplementedError(f"{self.name} does not receive webhooks")
        self.webhook_verifier.verify(headers, body, self.webhook_secrets(), now=now)

    def webhook_secrets(self) -> list[Any]:
        """The active webhook secrets (several during a rotation); read from the config."""
        secrets = getattr(self.config, "webhook_secrets", None)
        return list(secrets or [])

    # -- outbound ---------------------------------------------------------------------------------

    def base_url(self) -> str:
        """The vendor API's base URL for this configuration."""
        raise NotImplementedError

    def default_headers(self) -> dict[str, str]:
        """Headers every outbound call carries (authentication), built from the config."""
        return {}

    def rate_limit_policy(self) -> RateLimitPolicy | None:
        """The vendor's rate-limit behaviour beyond 429 handling, if any."""
        return None

    @property
    def http(self) -> HttpClient:
        """The connector's one shared HTTP client (created on first use)."""
        if self._http is None:
            self._http = HttpClient(
                connector=self.name,
                base_url=self.base_url(),
                headers=self.default_headers(),
                timeout=self.config.timeout_seconds,
                max_attempts=self.config.max_attempts,
                transport=self._transport,
                rate_limit=self.rate_limit_policy(),
                sleep=self._sleep,
            )
        return self._http

    # -- scheduled reads --------------------------------------------------------------------------

    @classmethod
    def poll_specs(cls) -> dict[str, PollSpec]:
        """The polls the hub may schedule for this connector (see :mod:`connectors.polling`)."""
        return {}

    def poll(self, name: str, window: TimeWindow | None) -> Iterator[Any]:
        """The items of poll ``name`` (raw vendor JSON, translated as the poll's ``event``), for
        ``window`` when the poll is windowed. Pages are followed as the vendor pages; errors follow
        :meth:`push_availability`'s contract."""
        raise UnknownPollError(f"connector {self.name!r} offers no poll {name!r}")

    # -- outbound inventory -----------------------------------------------------------------------

    def push_availability(
        self, sku: str, available: int, *, external_ids: Mapping[str, str]
    ) -> None:
        """Tell the channel how many units of ``sku`` it may sell now (an absolute level).

        The hub calls this for every instance of a connector that lists ``availability.changed``
        in :attr:`accepts`, from a worker thread, once per changed level. ``external_ids`` are the
        channel's own ids for the SKU from the hub's catalogue, keyed by kind (``variant_id``,
        ``inventory_item_id``, ``listing_id``, ``seller_sku``, ``product_id``). The contract:

        * set, never adjust: the call is idempotent, so a retry or a replay cannot drift stock;
        * a negative level (oversold) is sent as 0;
        * a missing id raises :class:`~connectors.errors.MissingExternalIdError` (see
          :meth:`external_id`) before any request is made;
        * transient failures raise ``RateLimited`` / ``RetriableError`` (the shared client does
          that), a refused request a ``FatalError`` (``RequestRejected``, ``AuthenticationError``);
        * returns ``None``.

        The conformance kit's ``test_push_availability`` checks this for every connector that
        accepts ``availability.changed``.
        """
        raise NotImplementedError(
            f"connector {self.name!r} lists availability.changed in accepts but does not "
            "implement push_availability"
        )

    # -- outbound fulfilment ----------------------------------------------------------------------

    def request_fulfillment(self, request: FulfillmentRequest) -> str:
        """Ask the fulfilment node (a 3PL, a warehouse system) to ship ``request``; returns the
        node's own id for it.

        The hub calls this for every instance of a connector that lists ``fulfillment.requested``
        in :attr:`accepts` and serves the request's location, when the hub releases an order to
        that node (``hub release run``). ``request.request_id`` is stable for one release, so a
        connector passes it as the vendor's reference (ShipBob ``reference_id``) where the vendor
        offers one. Errors follow :meth:`push_availability`'s contract.
        """
        raise NotImplementedError(
            f"connector {self.name!r} lists fulfillment.requested in accepts but does not "
            "implement request_fulfillment"
        )

    def cancel_fulfillment(self, cancellation: FulfillmentCancellation) -> str:
        """Withdraw a request this node received through :meth:`request_fulfillment`: the order
        was cancelled after the hub released it. Returns a short sentence for the operator's log
        (what was cancelled at the node, or that there was nothing to cancel).

        The hub calls this for the instance that serves ``cancellation.location`` and lists
        ``fulfillment.cancelled`` in :attr:`accepts` (a route sending ``fulfillment.requested``
        there implies it), once per released request the ledger cancelled. Find what the node
        made of the request by ``cancellation.request_id`` (the reference
        :meth:`request_fulfillment` gave it), then cancel it. The contract:

        * **the node never received the request** (the release failed, or was never sent): succeed
          and say so; there is nothing to cancel;
        * **already cancelled** (a replay, a retry after a lost answer): succeed without cancelling
          again;
        * **too late** (the node picked, packed or shipped it; the label was scanned): raise a
          permanent error (``FatalError``) whose message names the node's order or shipment and
          tells the operator what to do instead (intercept with the carrier, return to sender,
          treat the parcel as a return). It becomes an outbound dead letter;
        * otherwise errors follow :meth:`push_availability`'s contract: 429, 5xx and timeouts are
          retriable, a refusal is a ``FatalError``.

        A connector that accepts ``fulfillment.requested`` but cannot cancel at its node leaves
        ``fulfillment.cancelled`` out of :attr:`accepts` and waives ``cancel_fulfillment`` in its
        conformance tests with the reason; the hub then dead-letters each such cancellation so an
        operator cancels at the node by hand.
        """
        raise NotImplementedError(
            f"connector {self.name!r} lists fulfillment.cancelled in accepts but does not "
            "implement cancel_fulfillment"
        )

    @classmethod
    def location_problems(
        cls, config: ConnectorConfig, location: str
    ) -> list[tuple[tuple[str, ...], str]]:
        """What this configuration lacks to serve ``location`` (an instance's ``location:``).

        ``hub validate`` reports each as ``(settings key path, message)``, so a node that cannot
        be served is a load-time error rather than a dead letter at the first release. The default
        finds nothing; EasyPost needs the location's origin address and a default parcel.
        """
        return []

    def account(self) -> str:
        """A short, secret-free name of the vendor account (shop domain, seller id), for errors."""
        return ""

    def external_id(self, sku: str, external_ids: Mapping[str, str], *kinds: str) -> str:
        """The first of ``kinds`` the catalogue holds for ``sku``; raises when none is there.

        The error names the SKU, the connector and its account, and the id kinds that would do, so
        an operator knows which catalogue column to fill.
        """
        for kind in kinds:
            value = str(external_ids.get(kind) or "").strip()
            if value:
                return value
        needed = " or ".join(kinds)
        where = (
            f"{self.name} channel ({self.account()})" if self.account() else f"{self.name} channel"
        )
        raise MissingExternalIdError(
            f"SKU {sku!r} has no {needed} for this {where}; add the {kinds[0]} column to the "
            "channel's catalogue row (hub catalog import) and replay the dead letter",
            sku=sku,
            kinds=kinds,
            connector=self.name,
            operation="push_availability",
        )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
