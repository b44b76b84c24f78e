"""EasyPost carrier connector: tracker webhooks in, label purchase out.

Releasing an order to an own warehouse served by an EasyPost instance buys its label
(:meth:`EasyPostConnector.request_fulfillment`): ``POST /v2/shipments`` with the buyer's address,
the warehouse's origin address (``origins``) and a parcel weighed from ``sku_weights_oz`` or the
default ``parcel``; the cheapest of the returned rates the request allows (``service_levels``
maps the hub's service levels to EasyPost carriers and services); ``POST
/v2/shipments/{id}/buy``. The EasyPost shipment id is the request's vendor reference.

EasyPost documents no idempotency key, so a retried release first lists the shipments created
since the release (``GET /v2/shipments?start_datetime=...``) and returns the one already bought
with the request id as its ``reference``; a buy refused because the shipment already has postage
(the answer to an earlier attempt was lost) re-reads the shipment and keeps its label. A shipment
created but never bought costs nothing and is not reused, so a fixed configuration takes effect
on the next attempt.

An order cancelled after its release refunds the label
(:meth:`EasyPostConnector.cancel_fulfillment`): the bought shipment is found the same way, then
``POST /v2/shipments/{id}/refund``; a label already scanned, or a refund the carrier rejects, is
:class:`~connectors.errors.TooLateToCancel`.

Webhooks carry ``X-Hmac-Signature: hmac-sha256-hex=<hex>``, an HMAC-SHA256 of the raw body keyed
with the webhook secret normalised to Unicode NFKD (as EasyPost's own client libraries do). There is
no timestamp, so replays are caught by the idempotency key, not the signature.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from canonical.fulfillment import FulfillmentCancellation, FulfillmentRequest, Package
from canonical.party import Address
from connectors.base import Connector, dump_payload, load_payload
from connectors.easypost import mapping
from connectors.errors import (
    ConnectorConfigError,
    FatalError,
    RequestRejected,
    TooLateToCancel,
)
from connectors.pagination import BasePaginator, paginate
from connectors.secrets import reveal
from connectors.spec import ApiBase, ConnectorConfig, ConnectorKind, EventSpec, Slug
from connectors.webhooks import HmacBodyVerifier, nfkd

__all__ = ["EasyPostConfig", "EasyPostConnector", "Label", "ParcelDefaults", "ServiceChoice"]

log = logging.getLogger(__name__)

#: How far before the release a retry looks for a shipment it may already have bought (clock skew
#: between the hub and EasyPost; the shipment is always created after the release).
LOOKBACK = timedelta(minutes=15)
#: How far back a cancellation that does not say when its request was released looks for a label.
CANCEL_LOOKBACK = timedelta(days=30)
#: Tracking statuses of a label no carrier has scanned yet (the parcel has not moved).
NOT_SCANNED = frozenset({"unknown", "pre_transit"})
#: Refund statuses that mean a refund is on its way (asking again would be refused).
REFUNDING = frozenset({"submitted", "refunded"})
JSON = {"Content-Type": "application/json"}

_Ounces = Annotated[Decimal, Field(gt=0, le=2400, decimal_places=4)]
_Inches = Annotated[Decimal, Field(gt=0, le=1200, decimal_places=4)]


class ParcelDefaults(BaseModel):
    """The parcel of a release when no master data says better (no SKU carries dimensions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    weight_oz: _Ounces = Field(
        description="Weight in ounces of a parcel holding a SKU without a unit weight "
        "(sku_weights_oz); such a parcel is never declared lighter than this."
    )
    tare_oz: Annotated[Decimal, Field(ge=0, le=2400, decimal_places=4)] = Field(
        default=Decimal(0), description="Packaging in ounces, added to the units' weight."
    )
    length_in: _Inches | None = Field(default=None, description="Length in inches.")
    width_in: _Inches | None = Field(default=None, description="Width in inches.")
    height_in: _Inches | None = Field(default=None, description="Height in inches.")

    @model_validator(mode="after")
    def _all_dimensions_or_none(self) -> ParcelDefaults:
        given = [d is not None for d in (self.length_in, self.width_in, self.height_in)]
        if any(given) and not all(given):
            raise ValueError("give length_in, width_in and height_in together, or none of them")
        return self


class ServiceChoice(BaseModel):
    """What one of the hub's service levels buys at EasyPost."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    carrier: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="EasyPost carrier name as its rates spell it (USPS, UPS, FedEx...)."
    )
    services: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = (
        Field(
            default=None,
            description="EasyPost services that satisfy the level (GroundAdvantage, Priority, "
            "NextDayAir...); the cheapest offered is bought. Leave out for the carrier's "
            "cheapest rate.",
        )
    )


@dataclass(frozen=True, slots=True)
class Label:
    """A bought label: the EasyPost shipment, the package it made and the rate it was bought at."""

    shipment_id: str
    package: Package
    carrier: str
    service: str
    reused: bool = False


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
    origins: dict[Slug, Address] = Field(
        default_factory=dict,
        description="Per hub location this instance serves, the address labels ship from "
        "(name or company, line1, city, region, postal_code, country; phone as carriers need).",
    )
    parcel: ParcelDefaults | None = Field(
        default=None, description="The default parcel: weight, packaging tare, dimensions."
    )
    sku_weights_oz: dict[Annotated[str, Field(min_length=1, max_length=64)], _Ounces] = Field(
        default_factory=dict,
        description="Unit weight in ounces per hub SKU; a parcel weighs the sum of its lines' "
        "quantity times unit weight, plus the parcel's tare_oz.",
    )
    service_levels: dict[str, ServiceChoice] = Field(
        default_factory=dict,
        description="The hub's service levels (express, standard...) as EasyPost carrier and "
        "services. A level not listed buys the cheapest rate of the service it names when a "
        "rate's service is spelled like it (Priority), else the cheapest rate; either of the "
        "request's carrier when it names one.",
    )
    label_format: Literal["PNG", "PDF", "ZPL", "EPL2"] = Field(
        default="PNG", description="The label file EasyPost makes."
    )

    @field_validator("origins")
    @classmethod
    def _origins_are_shippable(cls, origins: dict[str, Address]) -> dict[str, Address]:
        for location, origin in origins.items():
            missing = _missing_street_fields(origin)
            if not (origin.name or origin.company):
                missing.insert(0, "name or company")
            if missing:
                raise ValueError(
                    f"the origin address of location {location!r} lacks {', '.join(missing)}"
                )
        return origins


def _missing_street_fields(address: Address) -> list[str]:
    """The fields a carrier needs to route a parcel to or from ``address`` that it lacks."""
    return [key for key in ("line1", "city", "postal_code", "country") if not getattr(address, key)]


class _ShipmentPages(BasePaginator[str]):
    """``GET /v2/shipments`` pages: most recent first, ``has_more``, the next page ``before_id``
    the last shipment's id."""

    def get_next(self, response: httpx.Response) -> str | None:
        page: Any = load_payload(response.content)
        if not isinstance(page, dict) or page.get("has_more") is not True:
            return None
        shipments = page.get("shipments")
        if not isinstance(shipments, list) or not shipments:
            return None
        last = shipments[-1]
        return str(last["id"]) if isinstance(last, dict) and last.get("id") else None


class EasyPostConnector(Connector):
    name: ClassVar[str] = "easypost"
    kind: ClassVar[ConnectorKind] = ConnectorKind.CARRIER
    version: ClassVar[str] = "0.1.0"
    config_model: ClassVar[type[ConnectorConfig]] = EasyPostConfig
    events: ClassVar[dict[str, EventSpec]] = {
        name: EventSpec(name, mapping.to_canonical_tracking_event, ("tracking.updated",))
        for name in ("tracker.created", "tracker.updated")
    }
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested", "fulfillment.cancelled")
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

    @classmethod
    def location_problems(
        cls, config: ConnectorConfig, location: str
    ) -> list[tuple[tuple[str, ...], str]]:
        """A served location needs its origin address and a default parcel (``hub validate``)."""
        assert isinstance(config, EasyPostConfig)
        problems: list[tuple[tuple[str, ...], str]] = []
        if location not in config.origins:
            problems.append(
                (
                    ("origins",),
                    f"easypost serves location {location!r} but settings.origins has no "
                    f"address for it; labels need the address they ship from",
                )
            )
        if config.parcel is None:
            problems.append(
                (
                    ("parcel",),
                    f"easypost serves location {location!r} but has no settings.parcel "
                    "(weight_oz at least): labels need a parcel",
                )
            )
        return problems

    def request_fulfillment(self, request: FulfillmentRequest) -> str:
        """The hub's release of an order to a warehouse this instance serves: its label, bought.

        Returns the EasyPost shipment id. See :meth:`purchase_label`.
        """
        return self.purchase_label(request).shipment_id

    def purchase_label(self, request: FulfillmentRequest) -> Label:
        """Create the shipment for ``request``, choose its rate and buy the label.

        A label already bought for this request (its ``reference``) is returned instead of buying
        another. Refusals are :class:`~connectors.errors.FatalError`s naming what to fix (a config
        key, the ship-to fields, the rates on offer); 429, 5xx and timeouts are retriable.
        """
        body = self.shipment_body(request)  # refuses a request no label can be bought for
        existing = self.find_bought_shipment(request)
        if existing is not None:
            label = self._label(existing, reused=True)
            log.info(
                "easypost: request %s already has shipment %s (tracking %s); nothing bought",
                request.request_id,
                label.shipment_id,
                label.package.tracking_number,
            )
            return label
        created = self._create(body)
        shipment_id = str(created["id"])
        rate = self._choose(request, created, shipment_id)
        bought = self._buy(shipment_id, rate.id)
        label = self._label(bought)
        log.info(
            "easypost: bought %s %s for request %s: shipment %s, tracking %s",
            label.carrier,
            label.service,
            request.request_id,
            label.shipment_id,
            label.package.tracking_number,
        )
        return label

    def shipment_body(self, request: FulfillmentRequest) -> dict[str, Any]:
        """The ``POST /v2/shipments`` body for ``request``; refuses (before any request) a
        location without an origin address, a parcel that cannot be weighed, and a ship-to
        address without street, city, postal code or country."""
        origin = self.config.origins.get(request.location)
        if origin is None:
            raise ConnectorConfigError(
                f"request {request.request_id}: location {request.location!r} has no origin "
                "address in this instance's settings.origins",
                connector=self.name,
                operation="shipments.create",
            )
        missing = _missing_street_fields(request.ship_to)
        if missing:
            raise FatalError(
                f"request {request.request_id}: the ship-to address lacks {', '.join(missing)}; "
                "no label can be bought for it",
                connector=self.name,
                operation="shipments.create",
            )
        return mapping.shipment_body(
            request,
            origin=origin,
            parcel=self._parcel(request),
            label_format=self.config.label_format,
        )

    def create_shipment(self, request: FulfillmentRequest) -> Any:
        """``POST /v2/shipments`` for ``request``: the created Shipment with its ``rates``."""
        return self._create(self.shipment_body(request))

    def _create(self, body: dict[str, Any]) -> Any:
        response = self.http.request(
            "POST", "/v2/shipments", operation="shipments.create",
            content=dump_payload(body), headers=JSON,
        )  # fmt: skip
        return load_payload(response.content)

    def find_bought_shipment(self, request: FulfillmentRequest) -> Any:
        """The bought shipment whose ``reference`` is the request id, created since the release
        (less :data:`LOOKBACK`), or None. Pages most recent first, stops at the first found."""
        return self._find_bought(request.request_id, request.requested_at)

    def cancel_fulfillment(self, cancellation: FulfillmentCancellation) -> str:
        """The order was cancelled after its label was bought: refund (void) the label.

        The shipment is found as a retried release finds it (:meth:`find_bought_shipment`: the
        request id as its ``reference``); none bought means nothing to refund. A label whose
        refund is already ``submitted`` or ``refunded`` is left alone (a replay). A label already
        scanned, or a refund the carrier ``rejected``, is :class:`TooLateToCancel`: the parcel is
        moving, and the message says what to do. ``not_applicable`` (a bill-on-scan carrier)
        succeeds: nothing is charged unless the label is used.
        """
        request_id = cancellation.request_id
        since = cancellation.requested_at or cancellation.cancelled_at - CANCEL_LOOKBACK
        shipment = self._find_bought(request_id, since)
        if shipment is None:
            return f"no EasyPost label was bought for request {request_id}; nothing to refund"
        shipment_id = str(shipment["id"])
        tracking = shipment.get("tracking_code") or "none"
        label = f"request {request_id}: the label of EasyPost shipment {shipment_id} (tracking {tracking})"
        if shipment.get("refund_status") in REFUNDING:
            return f"the label of shipment {shipment_id} is already {shipment['refund_status']}"
        scanned = _tracking_status(shipment)
        if scanned not in NOT_SCANNED:
            raise TooLateToCancel(
                f"{label} was already scanned by the carrier (status {scanned}): the parcel is "
                "moving and the label cannot be refunded. Ask the carrier to intercept it "
                "(return to sender), or book it as a return when it comes back",
                connector=self.name,
                operation="shipments.refund",
            )
        try:
            refunded = self.refund_label(shipment_id)
        except RequestRejected as refused:
            raise TooLateToCancel(
                f"{label}: EasyPost refused the refund (HTTP {refused.status_code}). The label "
                "may be past the carrier's refund window or already used: check the shipment "
                "in EasyPost's dashboard, and do not ship the parcel",
                status_code=refused.status_code,
                connector=self.name,
                operation="shipments.refund",
            ) from None
        status = refunded.get("refund_status") if isinstance(refunded, dict) else None
        if status in REFUNDING:
            return f"refund of the label of shipment {shipment_id} {status}; do not use it"
        if status == "not_applicable":
            return (
                f"the carrier of shipment {shipment_id} bills on scan: nothing to refund as long "
                "as the label is not used; destroy it"
            )
        raise TooLateToCancel(
            f"{label}: the carrier rejected the refund (refund_status {status}); the label was "
            "probably scanned and the parcel is moving. Ask the carrier to intercept it (return "
            "to sender). If the parcel is still in the warehouse, replay this dead letter: "
            "carriers reject refunds asked for just after purchase",
            connector=self.name,
            operation="shipments.refund",
        )

    def refund_label(self, shipment_id: str) -> Any:
        """``POST /v2/shipments/{shipment_id}/refund``: the Shipment, with its ``refund_status``."""
        response = self.http.request(
            "POST", f"/v2/shipments/{shipment_id}/refund", operation="shipments.refund"
        )
        return load_payload(response.content)

    def _find_bought(self, reference: str, released_at: datetime) -> Any:
        start = (released_at - LOOKBACK).astimezone(UTC)
        params: dict[str, Any] = {
            "start_datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "page_size": 100,
        }

        def fetch(before: str | None) -> httpx.Response:
            query = {**params, "before_id": before} if before else params
            return self.http.request(
                "GET", "/v2/shipments", operation="shipments.list", params=query
            )

        for shipment in self._listed(paginate(fetch, _ShipmentPages())):
            if shipment.get("reference") == reference and mapping.is_bought(shipment):
                return shipment
        return None

    @staticmethod
    def _listed(pages: Iterator[httpx.Response]) -> Iterator[dict[str, Any]]:
        for response in pages:
            page: Any = load_payload(response.content)
            listed = page.get("shipments") if isinstance(page, dict) else None
            for shipment in listed if isinstance(listed, list) else []:
                if isinstance(shipment, dict):
                    yield shipment

    def _parcel(self, request: FulfillmentRequest) -> dict[str, Decimal]:
        defaults = self.config.parcel
        weight, unweighed = mapping.parcel_weight(
            request.lines,
            self.config.sku_weights_oz,
            default=defaults.weight_oz if defaults else None,
            tare=defaults.tare_oz if defaults else Decimal(0),
        )
        if weight is None:
            raise ConnectorConfigError(
                f"request {request.request_id}: SKU {', '.join(unweighed)} has no weight in "
                "settings.sku_weights_oz and there is no default settings.parcel.weight_oz",
                connector=self.name,
                operation="shipments.create",
            )
        if unweighed:
            log.warning(
                "easypost: request %s weighed with the default parcel; no unit weight for %s",
                request.request_id,
                ", ".join(unweighed),
            )
        parcel = {"weight": weight}
        if defaults and defaults.length_in and defaults.width_in and defaults.height_in:
            parcel = {
                "length": defaults.length_in,
                "width": defaults.width_in,
                "height": defaults.height_in,
                **parcel,
            }
        return parcel

    def _choose(self, request: FulfillmentRequest, created: Any, shipment_id: str) -> mapping.Rate:
        level = request.service_level
        choice = self.config.service_levels.get(level) if level else None
        carrier = request.carrier
        services: list[str] | None = None
        how = f"service level {level!r} is not in settings.service_levels: the cheapest rate"
        if choice is not None:
            if carrier is not None and carrier.casefold() != choice.carrier.casefold():
                raise FatalError(
                    f"request {request.request_id}: the release names carrier {carrier!r} but "
                    f"settings.service_levels.{level} buys {choice.carrier!r}; make them agree",
                    connector=self.name,
                    operation="shipments.buy",
                )
            carrier, services = choice.carrier, choice.services
            how = f"service level {level!r} via settings.service_levels"
        offered = mapping.rates(created)
        if (
            choice is None
            and level
            and any(r.service.casefold() == level.casefold() for r in offered)
        ):
            services = [level]  # the level is an EasyPost service name (Priority, NextDayAir)
            how = f"service level {level!r} is an EasyPost service"
        try:
            rate = mapping.choose_rate(offered, carrier=carrier, services=services)
        except ValueError as exc:
            raise FatalError(
                f"request {request.request_id}: shipment {shipment_id} has {exc}; cannot compare",
                connector=self.name,
                operation="shipments.buy",
            ) from None
        if rate is None:
            wanted = " ".join(
                part
                for part in (
                    f"carrier {carrier}" if carrier else "any carrier",
                    f"service in {services}" if services else "",
                )
                if part
            )
            on_offer = "; ".join(r.name for r in offered) or "none"
            raise FatalError(
                f"request {request.request_id}: no EasyPost rate fits ({wanted}; {how}); "
                f"shipment {shipment_id} offers: {on_offer}",
                connector=self.name,
                operation="shipments.buy",
            )
        return rate

    def _buy(self, shipment_id: str, rate_id: str) -> Any:
        try:
            response = self.http.request(
                "POST",
                f"/v2/shipments/{shipment_id}/buy",
                operation="shipments.buy",
                json={"rate": {"id": rate_id}},
            )
        except RequestRejected as refused:
            # An earlier attempt's answer may have been lost after EasyPost bought the label: the
            # retry is then refused (the shipment has postage). Keep that label, buy no other.
            if refused.status_code != 422:
                raise
            current = self.http.request(
                "GET", f"/v2/shipments/{shipment_id}", operation="shipments.retrieve"
            )
            shipment = load_payload(current.content)
            if not mapping.is_bought(shipment):
                raise
            return shipment
        return load_payload(response.content)

    @staticmethod
    def _label(shipment: Any, *, reused: bool = False) -> Label:
        rate = shipment["selected_rate"]
        return Label(
            shipment_id=str(shipment["id"]),
            package=mapping.to_canonical_package(shipment),
            carrier=str(rate.get("carrier") or ""),
            service=str(rate.get("service") or ""),
            reused=reused,
        )

    def buy_label(self, shipment_id: str, rate_id: str) -> Package:
        """Buy the label for ``rate_id`` of a created shipment; returns the package it made."""
        response = self.http.request(
            "POST",
            f"/v2/shipments/{shipment_id}/buy",
            operation="shipments.buy",
            json={"rate": {"id": rate_id}},
        )
        return mapping.to_canonical_package(load_payload(response.content))


def _tracking_status(shipment: dict[str, Any]) -> str:
    """Where the parcel is, as EasyPost tracks it (the tracker's status, else the shipment's)."""
    tracker = shipment.get("tracker")
    status = tracker.get("status") if isinstance(tracker, dict) else None
    return str(status or shipment.get("status") or "unknown")
