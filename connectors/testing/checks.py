"""The conformance rules, one function each, raising :class:`ConformanceFailure` when broken.

They are plain functions so that the kit's own tests can run each rule against a connector that
deliberately breaks it, and so that a connector's test class (:mod:`connectors.testing.suite`) is
only a thin pytest layer over them.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import respx
from jsonschema import Draft202012Validator

import canonical
from canonical.envelope import Envelope
from canonical.events import payload_model_for
from canonical.schemas import generate_schema, schema_path
from connectors.base import Connector, load_payload
from connectors.errors import (
    AuthenticationError,
    ConnectorConfigError,
    ConnectorError,
    MissingExternalIdError,
    PaginationLoopError,
    RateLimited,
    RequestRejected,
    RetriableError,
    TranslationError,
    WebhookVerificationError,
)
from connectors.reconcile import OrderChannel
from connectors.secrets import secret_values
from connectors.spec import ConnectorKind, TranslationContext

__all__ = [
    "AvailabilityCase",
    "ConformanceFailure",
    "OutboundCase",
    "PaginationCase",
    "Sample",
    "check_cancel_fulfillment",
    "check_config_schema",
    "check_declaration",
    "check_idempotency",
    "check_outbound_retries",
    "check_pagination",
    "check_push_availability",
    "check_sample_translates",
    "check_secrets_hidden",
    "check_spans",
    "check_webhook_signatures",
    "default_context",
]

_CREDENTIAL = re.compile(r"(secret|token|password|passwd|api_key|apikey|credential|private)", re.I)

#: The fixed instant every kit translation is "received" at.
RECEIVED_AT = datetime(2026, 3, 2, 15, 0, 0, tzinfo=UTC)


class ConformanceFailure(AssertionError):  # noqa: N818 - a test failure, like AssertionError
    """A connector breaks a conformance rule; the message says which and how."""


def fail(message: str) -> ConformanceFailure:
    return ConformanceFailure(message)


def default_context(instance: str = "test_instance") -> TranslationContext:
    return TranslationContext(tenant="acme", instance=instance, received_at=RECEIVED_AT)


@dataclass(frozen=True)
class Sample:
    """One vendor payload the connector must translate: the event name and the raw bytes."""

    event: str
    body: bytes
    name: str = ""

    @classmethod
    def from_file(cls, event: str, path: Path) -> Sample:
        return cls(event=event, body=path.read_bytes(), name=path.name)

    @property
    def id(self) -> str:
        return self.name or self.event

    def payload(self) -> Any:
        return load_payload(self.body)


@dataclass(frozen=True)
class OutboundCase:
    """One outbound operation: how to call it and which request it makes.

    ``ok`` is the vendor's success response; ``call(connector)`` performs the operation.
    """

    name: str
    method: str
    url: str
    call: Callable[[Connector], Any]
    ok: Callable[[], httpx.Response]


@dataclass(frozen=True)
class AvailabilityCase:
    """One ``push_availability`` call and the request the vendor documents for it.

    ``external_ids`` are the catalogue ids the push needs (and nothing the connector may not use);
    ``body`` is the exact JSON body the vendor documents for setting ``available``; ``ok`` is the
    vendor's documented success response.
    """

    sku: str
    available: int
    external_ids: Mapping[str, str]
    method: str
    url: str
    body: Any
    ok: Callable[[], httpx.Response]

    def outbound(self) -> OutboundCase:
        """The push as an :class:`OutboundCase`, for the retry, span and secret checks."""
        return OutboundCase(
            name="push_availability",
            method=self.method,
            url=self.url,
            call=lambda c: c.push_availability(
                self.sku, self.available, external_ids=dict(self.external_ids)
            ),
            ok=self.ok,
        )


@dataclass(frozen=True)
class PaginationCase:
    """A paginated read: ``pages`` ends; ``looping_pages`` hands back a cursor twice."""

    method: str
    url: str
    call: Callable[[Connector], Iterable[Any]]
    pages: Callable[[], list[httpx.Response]]
    looping_pages: Callable[[], list[httpx.Response]]
    expected_items: int


# -- declaration and configuration ----------------------------------------------------------------


def check_declaration(cls: type[Connector]) -> None:
    problems = cls.check_declaration()
    if not cls.events:
        problems.append("declares no events")
    if isinstance(getattr(cls, "kind", None), ConnectorKind) and cls.kind.takes_orders:
        problems.extend(_order_channel_problems(cls))
    if problems:
        raise fail(f"{cls.__name__} declaration: " + "; ".join(problems))


_ORDER_EVENTS = {"order.created", "order.updated", "order.cancelled"}


def _order_channel_problems(cls: type[Connector]) -> list[str]:
    """Order channels run a reconciliation poll: OrderChannel, iter_orders, reconcile_event."""
    if not issubclass(cls, OrderChannel):
        return [
            "an order channel must subclass connectors.reconcile.OrderChannel, whose reconcile "
            "poll finds the orders webhooks missed"
        ]
    problems = []
    if cls.iter_orders is OrderChannel.iter_orders:
        problems.append("an order channel must implement iter_orders(window)")
    event = str(getattr(cls, "reconcile_event", ""))
    if event not in cls.events:
        problems.append(f"reconcile_event {event!r} is not one of the declared events")
    elif not _ORDER_EVENTS & set(cls.events[event].emits):
        problems.append(f"reconcile_event {event!r} emits no order snapshot")
    return problems


def check_config_schema(
    cls: type[Connector], valid: Mapping[str, Any], invalid: Sequence[Mapping[str, Any]]
) -> None:
    """The schema is JSON Schema, accepts a valid config, and refuses bad ones readably."""
    schema = cls.config_schema()
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as exc:  # noqa: BLE001 - any failure of the connector under test is reported
        raise fail(f"config schema is not valid JSON Schema: {exc}") from None
    validator = Draft202012Validator(schema)
    problems = [e.message for e in validator.iter_errors(json.loads(json.dumps(valid)))]
    if problems:
        raise fail(f"the JSON Schema refuses the valid config: {problems}")
    try:
        config = cls.parse_config(valid)
    except ConnectorConfigError as exc:
        raise fail(f"parse_config refuses the valid config: {exc}") from None
    secrets = secret_values(config)
    if not invalid:
        raise fail("give at least one invalid config to check refusal")
    for bad in invalid:
        if not list(validator.iter_errors(json.loads(json.dumps(bad)))):
            raise fail(f"the JSON Schema accepts an invalid config: {sorted(bad)}")
        try:
            cls.parse_config(bad)
        except ConnectorConfigError as exc:
            text = str(exc)
            if ":" not in text or "invalid" not in text:
                raise fail(f"config error does not name the field: {text!r}") from None
            leaked = [s for s in secrets if s in text]
            if leaked:
                raise fail("a config error message shows a secret") from None
        except Exception as exc:  # noqa: BLE001 - any failure of the connector under test is reported
            raise fail(
                f"parse_config raised {type(exc).__name__}, not ConnectorConfigError"
            ) from None
        else:
            raise fail(f"parse_config accepts an invalid config: {sorted(bad)}")


# -- webhooks -------------------------------------------------------------------------------------


def _refuses(
    connector: Connector, headers: Mapping[str, str], body: bytes, now: datetime, what: str
) -> None:
    try:
        connector.verify_webhook(headers, body, now=now)
    except WebhookVerificationError as exc:
        leaked = [s for s in secret_values(connector.config) if s in str(exc)]
        if leaked:
            raise fail(f"the verification error for {what} shows a secret") from None
        return
    except Exception as exc:  # noqa: BLE001 - any failure of the connector under test is reported
        raise fail(
            f"{what}: raised {type(exc).__name__} instead of WebhookVerificationError"
        ) from None
    raise fail(f"{what} was accepted")


def check_webhook_signatures(connector: Connector, body: bytes, *, now: datetime) -> None:
    """Genuine (any active secret) passes; tampered, re-keyed, unsigned and stale are refused."""
    verifier = type(connector).webhook_verifier
    if verifier is None:
        raise fail("the connector declares no webhook verifier")
    secrets = connector.webhook_secrets()
    if not secrets:
        raise fail("the configuration holds no webhook secret")
    timestamp = int(now.timestamp())
    for index, secret in enumerate(secrets):
        headers = verifier.sign(body, secret, timestamp=timestamp)
        try:
            connector.verify_webhook(headers, body, now=now)
        except WebhookVerificationError as exc:
            raise fail(
                f"a genuine delivery signed with secret #{index} was refused: {exc}"
            ) from None
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            connector.verify_webhook(lowered, body, now=now)
        except WebhookVerificationError:
            raise fail("header names must be matched case-insensitively") from None
    genuine = verifier.sign(body, secrets[0], timestamp=timestamp)
    tampered = body[:-1] + (b" " if body[-1:] != b" " else b"x")
    _refuses(connector, genuine, tampered, now, "a tampered body")
    _refuses(connector, genuine, body + b"\n", now, "a body with a byte appended")
    wrong = verifier.sign(body, "not-the-secret-" + "x" * 16, timestamp=timestamp)
    _refuses(connector, wrong, body, now, "a delivery signed with a wrong secret")
    _refuses(connector, {}, body, now, "a delivery without a signature header")
    _refuses(connector, dict.fromkeys(genuine, ""), body, now, "an empty signature header")
    tolerance = getattr(verifier, "tolerance", None)
    if tolerance:
        stale = verifier.sign(body, secrets[0], timestamp=timestamp - tolerance - 60)
        _refuses(connector, stale, body, now, "a stale timestamp")


# -- translation ----------------------------------------------------------------------------------


@cache
def _schema(name: str) -> dict[str, Any]:
    """A published schema from schemas/ when the repository is at hand, else generated."""
    from canonical.events import PAYLOAD_MODELS
    from canonical.schemas import PUBLISHED_MODELS

    model = next(m for m in (*PUBLISHED_MODELS, *PAYLOAD_MODELS) if m.schema_name == name)
    folder = Path(canonical.__file__).resolve().parents[1] / "schemas"
    path = folder / schema_path(model)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    return generate_schema(model)


def validate_envelope(envelope: Envelope) -> None:
    document = json.loads(envelope.model_dump_json())
    for name, data in (
        ("envelope", document),
        (payload_model_for(envelope.event_type).schema_name, document["payload"]),
    ):
        assert name is not None
        validator = Draft202012Validator(
            _schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            raise fail(f"{envelope.event_type} does not validate against {name}: {where}: "
                       f"{errors[0].message}")  # fmt: skip


@contextmanager
def no_network() -> Iterator[None]:
    """Any socket use inside the block fails the check: translation must not do I/O."""
    original = socket.socket.connect

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConformanceFailure("translation opened a network connection")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:
        with respx.mock(assert_all_called=False) as mock:
            mock.route().mock(side_effect=ConformanceFailure("translation made an HTTP call"))
            yield
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def translate(cls: type[Connector], sample: Sample, ctx: TranslationContext) -> list[Envelope]:
    with no_network():
        return cls.translate(sample.event, sample.payload(), ctx)


def check_sample_translates(
    cls: type[Connector], sample: Sample, ctx: TranslationContext | None = None
) -> list[Envelope]:
    """The sample translates, purely, into envelopes that validate against schemas/."""
    ctx = ctx or default_context()
    try:
        envelopes = translate(cls, sample, ctx)
    except TranslationError as exc:
        raise fail(f"{sample.id} does not translate: {exc}") from None
    declared = cls.events[sample.event].emits
    for env in envelopes:
        if env.event_type not in declared:
            raise fail(f"{sample.id} emitted undeclared {env.event_type}")
        if env.source.connector != cls.name or env.source.instance != ctx.instance:
            raise fail(f"{sample.id}: envelope source is {env.source}, not {cls.name}")
        if env.received_at != ctx.received_at:
            raise fail(f"{sample.id}: received_at must come from the translation context")
        validate_envelope(env)
    return envelopes


def _keys(envelopes: list[Envelope]) -> list[str]:
    return [e.idempotency_key for e in envelopes]


def check_idempotency(
    cls: type[Connector],
    sample: Sample,
    changed: Any,
    ctx: TranslationContext | None = None,
) -> None:
    """Deterministic output; a redelivery keeps the keys; a changed payload changes them."""
    ctx = ctx or default_context()
    first = translate(cls, sample, ctx)
    second = translate(cls, sample, ctx)
    if [e.model_dump_json() for e in first] != [e.model_dump_json() for e in second]:
        raise fail(f"{sample.id}: translating twice gave different output (clock or randomness?)")
    later = replace(ctx, received_at=ctx.received_at + timedelta(hours=3))
    redelivered = translate(cls, sample, later)
    if _keys(redelivered) != _keys(first):
        raise fail(f"{sample.id}: a redelivery derived different idempotency keys")
    if not first:
        return
    changed_sample = Sample(sample.event, json.dumps(changed, default=str).encode(), sample.id)
    new = translate(cls, changed_sample, ctx)
    if set(_keys(new)) <= set(_keys(first)):
        raise fail(f"{sample.id}: a changed payload derived the same idempotency keys")


# -- outbound -------------------------------------------------------------------------------------


def _no_secret(connector: Connector, text: str, what: str) -> None:
    leaked = [s for s in secret_values(connector.config) if s in text]
    if leaked:
        raise fail(f"{what} shows a secret")


def check_outbound_retries(
    make: Callable[[], Connector],
    case: OutboundCase,
    *,
    caplog_text: Callable[[], str] | None = None,
) -> None:
    """429 and 5xx are retried; giving up raises a typed error; 401/400 are not retried."""

    def run(responses: list[httpx.Response | Exception]) -> tuple[Any, BaseException | None, int]:
        connector = make()
        with respx.mock(assert_all_called=False) as mock:
            route = mock.request(case.method, case.url).mock(side_effect=responses)
            try:
                result, error = case.call(connector), None
            except ConnectorError as exc:
                result, error = None, exc
            except Exception as exc:  # noqa: BLE001 - any failure of the connector under test is reported
                raise fail(f"{case.name}: raised untyped {type(exc).__name__}: {exc}") from None
            finally:
                connector.close()
            if error is not None:
                _no_secret(connector, f"{error} {error!r}", f"{case.name} error")
            return result, error, route.call_count

    attempts = make().config.max_attempts
    if attempts < 2:
        raise fail("check retries with a config that allows at least 2 attempts")
    for status in (429, 503):
        headers = {"Retry-After": "0"} if status == 429 else {}
        _, error, calls = run([httpx.Response(status, headers=headers), case.ok()])
        if error is not None or calls != 2:
            raise fail(f"{case.name}: HTTP {status} then 200 should succeed on the 2nd call "
                       f"(calls={calls}, error={error!r})")  # fmt: skip
    _, error, calls = run([httpx.Response(500)] * attempts)
    if not isinstance(error, RetriableError) or calls != attempts:
        raise fail(f"{case.name}: persistent 500 should raise RetriableError after {attempts} "
                   f"calls (calls={calls}, error={error!r})")  # fmt: skip
    _, error, calls = run([httpx.Response(429, headers={"Retry-After": "1"})] * attempts)
    if not isinstance(error, RateLimited) or error.retry_after != 1.0:
        raise fail(f"{case.name}: persistent 429 should raise RateLimited(retry_after=1.0), "
                   f"got {error!r}")  # fmt: skip
    _, error, calls = run([httpx.Response(401), case.ok()])
    if not isinstance(error, AuthenticationError) or calls != 1:
        raise fail(f"{case.name}: 401 should raise AuthenticationError at once (calls={calls})")
    _, error, calls = run([httpx.Response(422, json={"errors": "secret-free?"}), case.ok()])
    if not isinstance(error, RequestRejected) or calls != 1:
        raise fail(f"{case.name}: 422 should raise RequestRejected at once (calls={calls})")
    _, error, calls = run([httpx.ConnectTimeout("slow"), case.ok()])
    if error is not None or calls != 2:
        raise fail(f"{case.name}: a timeout then 200 should succeed on the 2nd call")
    check_spans(make, case)


def check_spans(make: Callable[[], Connector], case: OutboundCase) -> None:
    """Every outbound attempt is an OpenTelemetry span naming the connector and the operation."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from connectors import http as hub_http

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = hub_http.tracer
    hub_http.tracer = provider.get_tracer("conformance")
    connector = make()
    try:
        with respx.mock(assert_all_called=False) as mock:
            mock.request(case.method, case.url).mock(side_effect=[httpx.Response(503), case.ok()])
            case.call(connector)
    finally:
        hub_http.tracer = original
        connector.close()
    spans = [
        span
        for span in exporter.get_finished_spans()
        if (span.attributes or {}).get("hub.connector") == connector.name
    ]
    if len(spans) < 2:
        raise fail(f"{case.name}: expected a span per attempt with hub.connector, got {len(spans)}")
    if any(not (span.attributes or {}).get("hub.operation") for span in spans):
        raise fail(f"{case.name}: spans must carry hub.operation")


def _negatives(node: Any) -> list[Any]:
    if isinstance(node, bool):
        return []
    if isinstance(node, int | float):
        return [node] if node < 0 else []
    if isinstance(node, dict):
        return [n for value in node.values() for n in _negatives(value)]
    if isinstance(node, list):
        return [n for value in node for n in _negatives(value)]
    return []


def _push(
    connector: Connector, case: AvailabilityCase, available: int, ids: Mapping[str, str]
) -> tuple[Any, BaseException | None, list[httpx.Request], int]:
    """Run one push against the documented route; (result, error, its requests, stray requests)."""
    with respx.mock(assert_all_called=False, assert_all_mocked=False) as mock:
        route = mock.request(case.method, case.url).mock(side_effect=lambda _r: case.ok())
        stray = mock.route().mock(return_value=httpx.Response(404))
        push: Callable[..., Any] = connector.push_availability  # a broken one may return a value
        try:
            result, error = push(case.sku, available, external_ids=ids), None
        except ConnectorError as exc:
            result, error = None, exc
        except Exception as exc:  # noqa: BLE001 - any failure of the connector under test is reported
            raise fail(f"push_availability raised untyped {type(exc).__name__}: {exc}") from None
        return result, error, [call.request for call in route.calls], stray.call_count


def check_push_availability(make: Callable[[], Connector], case: AvailabilityCase) -> None:
    """A connector accepting availability.changed implements the hook and pushes well-formed.

    The push sets an absolute level with exactly the documented request and body; a negative level
    goes out as 0; repeating it sends the same request (a set, not an adjustment); a SKU without
    the ids it needs raises :class:`MissingExternalIdError` naming the SKU, before any request.
    """
    connector = make()
    cls = type(connector)
    if "availability.changed" not in cls.accepts:
        raise fail(f"{cls.__name__} does not list availability.changed in accepts")
    if cls.push_availability is Connector.push_availability:
        raise fail(
            f"{cls.__name__} accepts availability.changed but does not implement push_availability"
        )
    parameters = inspect.signature(cls.push_availability).parameters
    ids = parameters.get("external_ids")
    if (
        list(parameters)[:3] != ["self", "sku", "available"]
        or ids is None
        or ids.kind is not inspect.Parameter.KEYWORD_ONLY
    ):
        raise fail("push_availability must take (sku, available, *, external_ids)")
    try:
        result, error, requests, stray = _push(connector, case, case.available, case.external_ids)
        if stray or not requests:
            raise fail(f"push_availability made {stray} request(s) other than {case.method} "
                       f"{case.url} and {len(requests)} to it")  # fmt: skip
        if error is not None:
            raise fail(f"push_availability failed on the vendor's success response: {error!r}")
        if result is not None:
            raise fail("push_availability must return None")
        bodies = [json.loads(r.content) if r.content else None for r in requests]
        if any(body != case.body for body in bodies):
            raise fail(f"push_availability sent {bodies[0]!r}, not the documented {case.body!r}")
        _, error, again, _ = _push(connector, case, case.available, case.external_ids)
        if error is not None or [r.content for r in again] != [r.content for r in requests]:
            raise fail("pushing the same level twice must send the same request (set, not adjust)")
        _, error, negative, _ = _push(connector, case, -3, case.external_ids)
        if error is not None or not negative:
            raise fail(f"push_availability of an oversold (negative) level failed: {error!r}")
        sent = [n for r in negative for n in _negatives(json.loads(r.content or b"null"))]
        if sent:
            raise fail(f"push_availability sent a negative level {sent[0]} instead of 0")
        _, error, made, stray = _push(connector, case, case.available, {})
        if not isinstance(error, MissingExternalIdError) or made or stray:
            raise fail(f"a SKU without its channel ids must raise MissingExternalIdError before "
                       f"any request (got {error!r} after {len(made) + stray} request(s))")  # fmt: skip
        if case.sku not in str(error) or not error.kinds:
            raise fail("MissingExternalIdError must name the SKU and the id kinds it needs")
        if not set(error.kinds) & set(case.external_ids):
            raise fail(f"the error asks for {error.kinds}, none of which the case supplies")
    finally:
        connector.close()


def check_pagination(make: Callable[[], Connector], case: PaginationCase) -> None:
    """Pagination ends with every item; a cursor handed back twice raises PaginationLoopError."""
    connector = make()
    with respx.mock(assert_all_called=False) as mock:
        route = mock.request(case.method, case.url).mock(side_effect=case.pages())
        items = list(case.call(connector))
    if len(items) != case.expected_items:
        raise fail(f"pagination returned {len(items)} items, expected {case.expected_items}")
    if route.call_count != len(case.pages()):
        raise fail(f"pagination made {route.call_count} calls for {len(case.pages())} pages")
    connector = make()
    with respx.mock(assert_all_called=False) as mock:
        pages = case.looping_pages()
        mock.request(case.method, case.url).mock(side_effect=pages + pages + pages)
        try:
            for _ in case.call(connector):
                pass
        except PaginationLoopError:
            return
        except StopIteration:
            pass
    raise fail("a repeated page cursor did not raise PaginationLoopError")


# -- secrets --------------------------------------------------------------------------------------


def check_secrets_hidden(
    cls: type[Connector],
    valid: Mapping[str, Any],
    *,
    outbound: OutboundCase | None = None,
) -> None:
    """Secrets stay out of repr, str, JSON dumps, errors and log records."""
    connector = cls(valid)
    for name in type(connector.config).model_fields:
        value = getattr(connector.config, name)
        values = value if isinstance(value, list | tuple) else [value]
        if _CREDENTIAL.search(name) and any(isinstance(v, str) and v for v in values):
            raise fail(
                f"config field {name!r} looks like a credential but is a plain string; "
                "declare it as SecretStr so repr(config) shows a secret never"
            )
    secrets = secret_values(connector.config)
    if not secrets:
        raise fail("the valid config holds no secret to check; declare credentials as SecretStr")
    texts = {
        "repr(config)": repr(connector.config),
        "str(config)": str(connector.config),
        "config JSON": connector.config.model_dump_json(),
        "repr(connector)": repr(connector),
    }
    for what, text in texts.items():
        _no_secret(connector, text, what)
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        if outbound is not None:
            with respx.mock(assert_all_called=False) as mock:
                mock.request(outbound.method, outbound.url).mock(
                    side_effect=[httpx.Response(401, text=" ".join(secrets))]
                )
                try:
                    outbound.call(connector)
                except ConnectorError as exc:
                    _no_secret(connector, f"{exc} {exc!r} {exc.args}", "an outbound error")
                    if secrets and any(s in str(exc) for s in secrets):
                        raise fail("an error message repeats the vendor's response body") from None
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        connector.close()
    for record in records:
        _no_secret(connector, record.getMessage(), f"log record {record.name}")


def check_cancel_fulfillment(cls: type[Connector], *, waived: bool = False) -> None:
    """A fulfilment node's connector can withdraw what it was sent.

    A connector that accepts ``fulfillment.requested`` must also accept ``fulfillment.cancelled``
    and implement :meth:`~connectors.base.Connector.cancel_fulfillment` (taking the
    cancellation), unless its node cannot cancel and the rule is ``waived`` (the hub then
    dead-letters each cancellation for an operator to do by hand). Accepting
    ``fulfillment.cancelled`` without ``fulfillment.requested`` is refused: a connector cancels
    only what it was asked to fulfil.
    """
    accepts = set(cls.accepts)
    if "fulfillment.cancelled" in accepts:
        if "fulfillment.requested" not in accepts:
            raise fail(
                f"{cls.__name__} accepts fulfillment.cancelled but not fulfillment.requested; "
                "a connector cancels only requests it was sent"
            )
        if cls.cancel_fulfillment is Connector.cancel_fulfillment:
            raise fail(
                f"{cls.__name__} accepts fulfillment.cancelled but does not implement "
                "cancel_fulfillment"
            )
        if list(inspect.signature(cls.cancel_fulfillment).parameters) != [
            "self",
            "cancellation",
        ]:
            raise fail("cancel_fulfillment must take (cancellation)")
        return
    if "fulfillment.requested" in accepts and not waived:
        raise fail(
            f"{cls.__name__} accepts fulfillment.requested but not fulfillment.cancelled: "
            "implement cancel_fulfillment, or waive 'cancel_fulfillment' with the reason the "
            "node cannot cancel"
        )
