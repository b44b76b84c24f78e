"""The conformance kit passes a correct connector and fails one that breaks each rule."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import Field, SecretStr

from canonical.envelope import Envelope
from connectors.base import Connector, load_payload
from connectors.errors import WebhookVerificationError
from connectors.spec import ConnectorConfig, EventSpec, TranslationContext
from connectors.testing import (
    RECEIVED_AT,
    ConformanceFailure,
    ConnectorConformance,
    Sample,
    check_config_schema,
    check_declaration,
    check_idempotency,
    check_outbound_retries,
    check_pagination,
    check_push_availability,
    check_sample_translates,
    check_secrets_hidden,
    check_webhook_signatures,
    run_behaviour,
)
from connectors.webhooks import HmacBodyVerifier, StripeSignatureVerifier
from tests.connectors import toy
from tests.connectors.toy import (
    AVAILABILITY,
    BUY,
    CONFIG,
    PAGES,
    SAMPLE,
    TRACKER,
    ToyConnector,
    ToyStockConnector,
    translate_tracker,
)


def make(cls: type[Connector] = ToyConnector, config: dict[str, Any] = CONFIG) -> Any:
    return lambda: cls(config, sleep=lambda _s: None)


# -- the correct connector passes through the kit's base class -------------------------------------


class TestToyConformance(ConnectorConformance):
    connector = ToyConnector
    valid_config = CONFIG
    invalid_configs = toy.BAD_CONFIGS
    samples: ClassVar[list[Sample]] = [SAMPLE]
    outbound = [BUY]
    pagination = PAGES

    def change(self, sample: Sample, payload: Any) -> Any:
        return toy.changed(payload)


# -- each rule, broken ---------------------------------------------------------------------------


def test_declaration_with_unknown_canonical_event_fails() -> None:
    class Broken(ToyConnector):
        events: ClassVar[dict[str, EventSpec]] = {
            "tracker.updated": EventSpec("tracker.updated", translate_tracker, ("tracker.moved",))
        }

    with pytest.raises(ConformanceFailure, match="not a canonical event type"):
        check_declaration(Broken)


def test_open_config_that_accepts_anything_fails() -> None:
    class LooseConfig(ConnectorConfig):
        api_key: str = ""
        webhook_secrets: list[str] = []

    class Broken(ToyConnector):
        config_model: ClassVar[type[ConnectorConfig]] = LooseConfig

    with pytest.raises(ConformanceFailure, match="accepts an invalid config"):
        check_config_schema(Broken, CONFIG, toy.BAD_CONFIGS)


def test_config_error_that_shows_a_secret_fails() -> None:
    from pydantic import field_validator

    class LeakyConfig(toy.ToyConfig):
        @field_validator("webhook_secrets")
        @classmethod
        def _check(cls, value: list[SecretStr]) -> list[SecretStr]:
            if not value:
                raise ValueError("need a secret")
            return value

        @field_validator("api_key")
        @classmethod
        def _key(cls, value: SecretStr) -> SecretStr:
            if value.get_secret_value() == "toy-api-key-0123456789":
                raise ValueError(f"key {value.get_secret_value()} is revoked")
            return value

    class Broken(ToyConnector):
        config_model: ClassVar[type[ConnectorConfig]] = LeakyConfig

    # the leaky validator refuses the valid key itself, revealing it; any refusal must hide it
    with pytest.raises(ConformanceFailure):
        check_config_schema(Broken, CONFIG, [{**CONFIG, "webhook_secrets": []}])


class _AcceptAll(HmacBodyVerifier):
    def verify(self, headers: Any, body: bytes, secrets: Any, *, now: Any = None) -> None:
        return None


class _FirstSecretOnly(HmacBodyVerifier):
    def verify(self, headers: Any, body: bytes, secrets: Any, *, now: Any = None) -> None:
        super().verify(headers, body, secrets[:1], now=now)


class _CaseSensitive(HmacBodyVerifier):
    def verify(self, headers: Any, body: bytes, secrets: Any, *, now: Any = None) -> None:
        if self.header not in headers:
            raise WebhookVerificationError("missing")
        super().verify(headers, body, secrets, now=now)


class _MissingHeaderPasses(HmacBodyVerifier):
    def verify(self, headers: Any, body: bytes, secrets: Any, *, now: Any = None) -> None:
        if not any(k.lower() == self.header.lower() and v for k, v in headers.items()):
            return
        super().verify(headers, body, secrets, now=now)


class _NoTolerance(StripeSignatureVerifier):
    def verify(self, headers: Any, body: bytes, secrets: Any, *, now: Any = None) -> None:
        super().verify(headers, body, secrets, now=datetime.fromtimestamp(0, UTC))

    def __init__(self) -> None:
        super().__init__(tolerance=300)
        self.tolerance = 300


@pytest.mark.parametrize(
    ("verifier", "message"),
    [
        (_AcceptAll("X-Toy-Signature", encoding="hex"), "tampered body was accepted"),
        (_FirstSecretOnly("X-Toy-Signature", encoding="hex"), "secret #1 was refused"),
        (_CaseSensitive("X-Toy-Signature", encoding="hex"), "case-insensitively"),
        (_MissingHeaderPasses("X-Toy-Signature", encoding="hex"), "without a signature header"),
    ],
    ids=["accepts-anything", "no-rotation", "case-sensitive", "missing-header"],
)
def test_broken_webhook_verification_fails(verifier: Any, message: str) -> None:
    class Broken(ToyConnector):
        webhook_verifier = verifier

    with pytest.raises(ConformanceFailure, match=message):
        check_webhook_signatures(Broken(CONFIG), SAMPLE.body, now=RECEIVED_AT)


def test_stale_timestamp_accepted_fails() -> None:
    class Lenient(StripeSignatureVerifier):
        def verify(self, headers: Any, body: bytes, secrets: Any, *, now: Any = None) -> None:
            StripeSignatureVerifier(tolerance=0).verify(headers, body, secrets, now=now)

    class Broken(ToyConnector):
        webhook_verifier = Lenient(tolerance=300)

    with pytest.raises(ConformanceFailure, match="stale timestamp was accepted"):
        check_webhook_signatures(Broken(CONFIG), SAMPLE.body, now=RECEIVED_AT)


def _with_translator(translator: Any, emits: tuple[str, ...] = ("tracking.updated",)) -> Any:
    class Broken(ToyConnector):
        events: ClassVar[dict[str, EventSpec]] = {
            "tracker.updated": EventSpec("tracker.updated", translator, emits)
        }

    return Broken


def test_translation_with_network_io_fails() -> None:
    def calls_home(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        httpx.get("https://api.toycarrier.test/trackers/1")
        return translate_tracker(raw, ctx)

    with pytest.raises(ConformanceFailure, match="HTTP call"):
        check_sample_translates(_with_translator(calls_home), SAMPLE)


def test_translation_with_wall_clock_received_at_fails() -> None:
    def uses_clock(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        now = TranslationContext(ctx.tenant, ctx.instance, datetime.now(UTC))
        return translate_tracker(raw, now)

    with pytest.raises(ConformanceFailure, match="received_at"):
        check_sample_translates(_with_translator(uses_clock), SAMPLE)


def test_translation_failing_on_a_sample_fails() -> None:
    def strict(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        return translate_tracker({**raw, "status": "teleported"}, ctx)

    with pytest.raises(ConformanceFailure, match="does not translate"):
        check_sample_translates(_with_translator(strict), SAMPLE)


def test_random_message_ids_fail_determinism() -> None:
    def random_ids(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        (env,) = translate_tracker(raw, ctx)
        fresh = uuid.UUID(int=(env.message_id.int & ~((1 << 62) - 1)) | uuid.uuid4().int >> 66)
        return [env.model_copy(update={"message_id": fresh})]

    with pytest.raises(ConformanceFailure, match="different output"):
        check_idempotency(_with_translator(random_ids), SAMPLE, toy.changed(TRACKER))


def test_keys_from_the_delivery_fail() -> None:
    def delivery_keys(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        (env,) = translate_tracker(raw, ctx)
        return [env.model_copy(update={"idempotency_key": f"v1:{ctx.received_at.isoformat()}"})]

    with pytest.raises(ConformanceFailure, match="redelivery derived different"):
        check_idempotency(_with_translator(delivery_keys), SAMPLE, toy.changed(TRACKER))


def test_keys_ignoring_the_version_fail() -> None:
    def id_only(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        (env,) = translate_tracker(raw, ctx)
        return [env.model_copy(update={"idempotency_key": f"v1:{raw['id']}"})]

    with pytest.raises(ConformanceFailure, match="changed payload derived the same"):
        check_idempotency(_with_translator(id_only), SAMPLE, toy.changed(TRACKER))


class _NoRetry(ToyConnector):
    def buy_label(self, shipment_id: str) -> str:
        self.http.max_attempts = 1
        return super().buy_label(shipment_id)


class _RawHttpx(ToyConnector):
    def buy_label(self, shipment_id: str) -> str:
        response = httpx.post(f"{toy.API}/labels/{shipment_id}", json={})
        response.raise_for_status()
        return str(response.json()["id"])


class _RetriesEverything(ToyConnector):
    def buy_label(self, shipment_id: str) -> str:
        for _ in range(3):
            try:
                return super().buy_label(shipment_id)
            except Exception:  # noqa: BLE001 - the broken behaviour under test
                continue
        raise RuntimeError("gave up")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_NoRetry, "should succeed on the 2nd call"),
        (_RawHttpx, "untyped HTTPStatusError"),
        (_RetriesEverything, "untyped RuntimeError|at once"),
    ],
    ids=["no-retry", "untyped-error", "retries-401"],
)
def test_broken_outbound_fails(broken: type[Connector], message: str) -> None:
    with pytest.raises(ConformanceFailure, match=message):
        check_outbound_retries(make(broken), BUY)


def test_pagination_that_ignores_a_repeated_cursor_fails() -> None:
    class Loops(ToyConnector):
        def iter_trackers(self) -> Iterator[Any]:
            token = None
            for _ in range(6):
                params = {"after": token} if token else {}
                response = self.http.request(
                    "GET", "/trackers", operation="trackers.list", params=params
                )
                body = response.json()
                yield from body["trackers"]
                token = body.get("next")
                if not token:
                    return

    with pytest.raises(ConformanceFailure, match="repeated page cursor"):
        check_pagination(make(Loops), PAGES)


def test_pagination_that_stops_early_fails() -> None:
    class FirstPageOnly(ToyConnector):
        def iter_trackers(self) -> Iterator[Any]:
            response = self.http.request("GET", "/trackers", operation="trackers.list")
            yield from response.json()["trackers"]

    with pytest.raises(ConformanceFailure, match="returned 2 items, expected 3"):
        check_pagination(make(FirstPageOnly), PAGES)


def test_plain_string_secret_in_config_fails() -> None:
    class PlainConfig(ConnectorConfig):
        api_key: str
        webhook_secrets: list[SecretStr] = Field(min_length=1)

    class Broken(ToyConnector):
        config_model: ClassVar[type[ConnectorConfig]] = PlainConfig

    with pytest.raises(ConformanceFailure, match="looks like a credential"):
        check_secrets_hidden(Broken, {**CONFIG, "webhook_secrets": ["s1"]}, outbound=BUY)


def test_error_repeating_the_response_body_fails() -> None:
    class Chatty(ToyConnector):
        def buy_label(self, shipment_id: str) -> str:
            from connectors.errors import RequestRejected

            response = httpx.post(f"{toy.API}/labels/{shipment_id}")
            if response.status_code >= 400:
                raise RequestRejected(f"vendor said: {response.text}")
            return "ok"

    with pytest.raises(ConformanceFailure, match="shows a secret"):
        check_secrets_hidden(Chatty, CONFIG, outbound=BUY)


def test_logging_the_credentials_fails() -> None:
    class Logs(ToyConnector):
        def buy_label(self, shipment_id: str) -> str:
            logging.getLogger("toy").debug("calling with %s", self.default_headers())
            return super().buy_label(shipment_id)

    with pytest.raises(ConformanceFailure, match="log record toy shows a secret"):
        check_secrets_hidden(Logs, CONFIG, outbound=BUY)


# -- commerce behaviours, broken -------------------------------------------------------------------


def _shopify_sample(name: str, event: str) -> Sample:
    from pathlib import Path

    return Sample.from_file(event, Path(__file__).parent / "shopify" / "fixtures" / name)


def _shopify_with(translator: Any) -> Any:
    from connectors.shopify import ShopifyConnector

    class Broken(ShopifyConnector):
        events: ClassVar[dict[str, EventSpec]] = {
            **ShopifyConnector.events,
            "orders/create": EventSpec(
                "orders/create", translator, ("order.created", "order.updated", "order.cancelled")
            ),
        }

    return Broken


def test_floating_ids_fail_the_big_id_behaviour() -> None:
    from connectors.shopify import mapping

    def floats(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        raw = {**raw, "id": int(float(raw["id"]))}
        return mapping.translate_order(raw, ctx)

    with pytest.raises(ConformanceFailure, match="not exactly"):
        run_behaviour(
            _shopify_with(floats),
            "ids_above_2_53",
            (_shopify_sample("orders_create.json", "orders/create"),),
            "5829371929123456789",
        )


def test_dropping_presentment_fails_the_currency_behaviour() -> None:
    from connectors.shopify import mapping

    def no_presentment(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        return mapping.translate_order({**raw, "presentment_currency": raw["currency"]}, ctx)

    with pytest.raises(ConformanceFailure, match="presentment"):
        run_behaviour(
            _shopify_with(no_presentment),
            "shop_vs_presentment_currency",
            (_shopify_sample("orders_create.json", "orders/create"),),
        )


def test_cancellation_as_plain_update_fails() -> None:
    from connectors.shopify import mapping

    def as_update(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        (env,) = mapping.translate_order(raw, ctx)
        return [env.model_copy(update={"event_type": "order.updated"})]

    with pytest.raises(ConformanceFailure, match="order.cancelled"):
        run_behaviour(
            _shopify_with(as_update),
            "cancellation_after_invoice",
            (_shopify_sample("orders_cancelled.json", "orders/create"),),
        )


def test_restock_flag_ignored_fails_the_refund_behaviour() -> None:
    from connectors.shopify import ShopifyConnector, mapping

    def always_restock(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        for item in raw["refund_line_items"]:
            item["restock_type"] = "return"
        return mapping.to_canonical_refund(raw, ctx)

    class Broken(ShopifyConnector):
        events: ClassVar[dict[str, EventSpec]] = {
            **ShopifyConnector.events,
            "refunds/create": EventSpec(
                "refunds/create", always_restock, ("payment.refunded", "return.requested")
            ),
        }

    with pytest.raises(ConformanceFailure, match="restock=False"):
        run_behaviour(
            Broken,
            "partial_refund_without_restock",
            (_shopify_sample("refunds_create_no_restock.json", "refunds/create"),),
        )


def test_load_payload_keeps_big_integers_exact() -> None:
    assert load_payload(b'{"id": 13572468013579246801}')["id"] == 13572468013579246801


def test_delivery_keys_fail_the_duplicated_webhook_behaviour() -> None:
    from connectors.shopify import mapping

    def delivery_keys(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        (env,) = mapping.translate_order(raw, ctx)
        return [env.model_copy(update={"idempotency_key": f"v1:{ctx.received_at.isoformat()}"})]

    with pytest.raises(ConformanceFailure, match="same idempotency keys"):
        run_behaviour(
            _shopify_with(delivery_keys),
            "duplicated_webhook",
            (_shopify_sample("orders_create.json", "orders/create"),),
        )


def test_snapshot_without_its_update_time_fails_paid_before_created() -> None:
    from connectors.shopify import ShopifyConnector, mapping

    def placed_time(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        (env,) = mapping.translate_order(raw, ctx)
        order = env.payload
        return [
            env.model_copy(
                update={"payload": order.model_copy(update={"updated_at": order.placed_at})}
            )
        ]  # type: ignore[union-attr]

    class Broken(ShopifyConnector):
        events: ClassVar[dict[str, EventSpec]] = {
            name: EventSpec(name, placed_time, spec.emits) if name.startswith("orders/") else spec
            for name, spec in ShopifyConnector.events.items()
        }

    with pytest.raises(ConformanceFailure, match="later updated_at"):
        run_behaviour(
            Broken,
            "paid_before_created",
            (
                _shopify_sample("orders_updated_paid.json", "orders/updated"),
                _shopify_sample("orders_create.json", "orders/create"),
            ),
        )


def test_shipments_keyed_by_order_fail_partial_fulfilment() -> None:
    from connectors.shopify import ShopifyConnector, mapping

    def by_order(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        (env,) = mapping.to_canonical_shipment(raw, ctx)
        shipment = env.payload
        fixed = shipment.model_copy(update={"shipment_id": shipment.order.external_id})  # type: ignore[union-attr]
        return [env.model_copy(update={"payload": fixed})]

    class Broken(ShopifyConnector):
        events: ClassVar[dict[str, EventSpec]] = {
            **ShopifyConnector.events,
            "fulfillments/create": EventSpec(
                "fulfillments/create", by_order, ("shipment.created",)
            ),
        }

    with pytest.raises(ConformanceFailure, match="two shipment ids"):
        run_behaviour(
            Broken,
            "partial_fulfilment",
            (
                _shopify_sample("fulfillments_create_1.json", "fulfillments/create"),
                _shopify_sample("fulfillments_create_2.json", "fulfillments/create"),
            ),
        )


def test_inventing_a_sku_fails_the_deleted_product_behaviour() -> None:
    from connectors.shopify import mapping

    def invents(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        for line in raw["line_items"]:
            line["sku"] = line["sku"] or "UNKNOWN"
            line["product_id"] = line["product_id"] or 1
        return mapping.translate_order(raw, ctx)

    with pytest.raises(ConformanceFailure, match="without product/SKU"):
        run_behaviour(
            _shopify_with(invents),
            "deleted_product",
            (_shopify_sample("orders_create.json", "orders/create"),),
        )


def test_refund_without_payment_event_fails_the_refund_behaviour() -> None:
    from connectors.shopify import ShopifyConnector, mapping

    def no_money(raw: Any, ctx: TranslationContext) -> list[Envelope]:
        return [
            e for e in mapping.to_canonical_refund(raw, ctx) if e.event_type != "payment.refunded"
        ]

    class Broken(ShopifyConnector):
        events: ClassVar[dict[str, EventSpec]] = {
            **ShopifyConnector.events,
            "refunds/create": EventSpec(
                "refunds/create", no_money, ("payment.refunded", "return.requested")
            ),
        }

    with pytest.raises(ConformanceFailure, match="must emit payment.refunded"):
        run_behaviour(
            Broken,
            "partial_refund_with_restock",
            (_shopify_sample("refunds_create_restock.json", "refunds/create"),),
        )


def test_outbound_without_spans_fails() -> None:
    from connectors.errors import RequestRejected, UpstreamUnavailable
    from connectors.testing.checks import check_spans

    class OwnClient(ToyConnector):
        def buy_label(self, shipment_id: str) -> str:
            for _ in range(3):
                response = httpx.post(f"{toy.API}/labels/{shipment_id}", json={})
                if response.status_code < 400:
                    return str(response.json()["id"])
                if response.status_code < 500:
                    raise RequestRejected("refused")
            raise UpstreamUnavailable("down")

    with pytest.raises(ConformanceFailure, match="span per attempt"):
        check_spans(make(OwnClient), BUY)


# -- push_availability ----------------------------------------------------------------------------


class TestToyStockConformance(TestToyConformance):
    connector = ToyStockConnector
    availability = AVAILABILITY


def test_accepting_availability_without_push_availability_fails() -> None:
    class NoPush(ToyConnector):
        accepts: ClassVar[tuple[str, ...]] = ("availability.changed",)

    with pytest.raises(ConformanceFailure, match="does not implement push_availability"):
        check_push_availability(make(NoPush), AVAILABILITY)
    with pytest.raises(NotImplementedError, match="'toycarrier' lists availability.changed"):
        NoPush(CONFIG).push_availability("MUG-BLUE", 1, external_ids={"listing_id": "L-77"})


def test_accepting_availability_without_a_case_fails_the_suite() -> None:
    class NoCase(TestToyConformance):
        connector = ToyStockConnector

    with pytest.raises(pytest.fail.Exception, match="needs an AvailabilityCase"):
        NoCase().test_push_availability()


class _PositionalIds(ToyStockConnector):
    def push_availability(self, sku: str, available: int, external_ids: Any = None) -> None:  # type: ignore[override]
        super().push_availability(sku, available, external_ids=external_ids or {})


class _WrongBody(ToyStockConnector):
    def push_availability(self, sku: str, available: int, *, external_ids: Any) -> None:
        listing = self.external_id(sku, external_ids, "listing_id")
        self.http.request(
            "PUT", f"/listings/{listing}/stock", operation="listings.stock", json={"qty": available}
        )


class _Negative(ToyStockConnector):
    def push_availability(self, sku: str, available: int, *, external_ids: Any) -> None:
        listing = self.external_id(sku, external_ids, "listing_id")
        self.http.request(
            "PUT", f"/listings/{listing}/stock", operation="listings.stock",
            json={"quantity": available},
        )  # fmt: skip


class _Adjusts(ToyStockConnector):
    pushed = 0

    def push_availability(self, sku: str, available: int, *, external_ids: Any) -> None:
        listing = self.external_id(sku, external_ids, "listing_id")
        delta, type(self).pushed = max(0, available) - type(self).pushed, max(0, available)
        self.http.request(
            "PUT", f"/listings/{listing}/stock", operation="listings.stock",
            json={"quantity": delta},
        )  # fmt: skip


class _GuessesTheId(ToyStockConnector):
    def push_availability(self, sku: str, available: int, *, external_ids: Any) -> None:
        listing = external_ids.get("listing_id", sku)  # the SKU is not the channel's id
        self.http.request(
            "PUT", f"/listings/{listing}/stock", operation="listings.stock",
            json={"quantity": max(0, available)},
        )  # fmt: skip


class _KeyErrorOnMissingId(ToyStockConnector):
    def push_availability(self, sku: str, available: int, *, external_ids: Any) -> None:
        _ = external_ids["listing_id"]  # the broken behaviour under test: a KeyError
        super().push_availability(sku, available, external_ids=external_ids)


class _ReturnsTheResponse(ToyStockConnector):
    def push_availability(self, sku: str, available: int, *, external_ids: Any) -> Any:  # type: ignore[override]
        super().push_availability(sku, available, external_ids=external_ids)
        return {"ok": True}


class _PushesTwoPlaces(ToyStockConnector):
    def push_availability(self, sku: str, available: int, *, external_ids: Any) -> None:
        super().push_availability(sku, available, external_ids=external_ids)
        self.http.request("POST", "/audit", operation="audit", json={"sku": sku})


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_PositionalIds, r"must take \(sku, available, \*, external_ids\)"),
        (_WrongBody, "not the documented"),
        (_Negative, "negative level -3"),
        (_Adjusts, "set, not adjust"),
        (_GuessesTheId, "must raise MissingExternalIdError before any request"),
        (_KeyErrorOnMissingId, "untyped KeyError"),
        (_ReturnsTheResponse, "must return None"),
        (_PushesTwoPlaces, "request\\(s\\) other than PUT"),
    ],
    ids=lambda v: v.__name__.strip("_") if isinstance(v, type) else "",
)
def test_broken_push_availability_fails(broken: type[Connector], message: str) -> None:
    assert check_push_availability(make(ToyStockConnector), AVAILABILITY) is None
    with pytest.raises(ConformanceFailure, match=message):
        check_push_availability(make(broken), AVAILABILITY)


def test_missing_id_error_names_the_sku_the_channel_and_the_kind() -> None:
    from connectors.errors import FatalError, MissingExternalIdError, RetriableError

    connector = ToyStockConnector(CONFIG)
    with pytest.raises(MissingExternalIdError) as caught:
        connector.push_availability("MUG-BLUE", 3, external_ids={"variant_id": "9"})
    error = caught.value
    assert isinstance(error, FatalError)
    assert not isinstance(error, RetriableError)
    assert (error.sku, error.kinds, error.code) == (
        "MUG-BLUE",
        ("listing_id",),
        "missing_external_id",
    )
    assert "SKU 'MUG-BLUE' has no listing_id for this toycarrier channel" in str(error)


# -- order channels reconcile ---------------------------------------------------------------------


def test_an_order_channel_without_a_reconciliation_poll_fails() -> None:
    from connectors.reconcile import OrderChannel
    from connectors.shopify import ShopifyConnector
    from connectors.spec import ConnectorKind

    class PlainStorefront(ToyConnector):
        kind: ClassVar[ConnectorKind] = ConnectorKind.STOREFRONT

    with pytest.raises(ConformanceFailure, match="must subclass connectors.reconcile.OrderChannel"):
        check_declaration(PlainStorefront)

    class NoPoll(OrderChannel, ToyConnector):  # type: ignore[misc]
        kind: ClassVar[ConnectorKind] = ConnectorKind.STOREFRONT
        reconcile_event: ClassVar[str] = "tracker.updated"

    with pytest.raises(ConformanceFailure, match="must implement iter_orders") as caught:
        check_declaration(NoPoll)
    assert "emits no order snapshot" in str(caught.value)

    class WrongEvent(ShopifyConnector):
        reconcile_event: ClassVar[str] = "orders/paid"

    with pytest.raises(ConformanceFailure, match="'orders/paid' is not one of the declared events"):
        check_declaration(WrongEvent)
    check_declaration(ShopifyConnector)


def test_a_poll_translated_by_an_undeclared_event_fails_the_declaration() -> None:
    from connectors.base import Connector
    from connectors.polling import PollSpec
    from connectors.shipbob.connector import ShipBobConnector

    class Broken(ShipBobConnector):
        name = "broken_polls"

        @classmethod
        def poll_specs(cls) -> dict[str, PollSpec]:
            return {"inventory": PollSpec("inventory", "inventory_snapshot", False, "levels")}

    assert "poll 'inventory' translates its items as 'inventory_snapshot', not an event" in (
        Broken.check_declaration()
    )
    assert ShipBobConnector.check_declaration() == []
    assert Connector.poll_specs() == {}


# -- fulfilment nodes cancel what they were sent ---------------------------------------------------


class _ToyNode(ToyConnector):
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested",)

    def request_fulfillment(self, request: Any) -> str:
        return "node-1"


class _ToyCancellingNode(_ToyNode):
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested", "fulfillment.cancelled")

    def cancel_fulfillment(self, cancellation: Any) -> str:
        return "cancelled node-1"


class _CancelsWithoutTheHook(_ToyNode):
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.requested", "fulfillment.cancelled")


class _CancelsOnly(ToyConnector):
    accepts: ClassVar[tuple[str, ...]] = ("fulfillment.cancelled",)

    def cancel_fulfillment(self, cancellation: Any) -> str:
        return "cancelled"


def test_a_node_that_cannot_cancel_fails_unless_waived() -> None:
    from connectors.testing import check_cancel_fulfillment

    check_cancel_fulfillment(_ToyCancellingNode)
    check_cancel_fulfillment(ToyConnector)  # no fulfilment at all: nothing to check
    with pytest.raises(ConformanceFailure, match="waive 'cancel_fulfillment'"):
        check_cancel_fulfillment(_ToyNode)
    check_cancel_fulfillment(_ToyNode, waived=True)
    with pytest.raises(ConformanceFailure, match="does not implement cancel_fulfillment"):
        check_cancel_fulfillment(_CancelsWithoutTheHook)
    with pytest.raises(ConformanceFailure, match="cancels only requests it was sent"):
        check_cancel_fulfillment(_CancelsOnly, waived=True)
