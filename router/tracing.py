"""OpenTelemetry spans for the routing pipeline, one trace per message.

Each raw message gets a ``hub.route`` span whose parent is the trace context the ingress received
(W3C ``traceparent``), so the vendor's delivery, the ingress, the broker hop and every stage join
one trace. Stages are child spans. The ledger applies a whole batch at once; each message still gets
its own ``hub.ledger.apply`` child span covering that call, so a trace reads end to end without
span links. Attributes follow the messaging semantic conventions plus ``hub.*`` names; payloads and
personal data never become attributes.

Without a configured SDK the API hands out non-recording spans, which cost next to nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from router.ports import RawMessage

__all__ = ["message_span", "outbound_span", "stage_span", "trace_id_of", "traceparent_of"]

_tracer = trace.get_tracer("commerce_hub.router")
_propagator = TraceContextTextMapPropagator()


def message_span(raw: RawMessage, system: str = "hub") -> Span:
    """Start (not enter) the span of one message, continuing the trace it arrived with."""
    carrier = {"traceparent": raw.traceparent} if raw.traceparent else {}
    parent = _propagator.extract(carrier)
    return _tracer.start_span(
        f"hub.route {raw.event}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": system,
            "messaging.operation.type": "process",
            "messaging.message.id": raw.id,
            "messaging.destination.name": f"{raw.tenant}.{raw.instance}",
            "hub.tenant": raw.tenant,
            "hub.connector_instance": raw.instance,
            "hub.vendor_event": raw.event,
            "hub.attempt": raw.attempt,
        },
    )


@contextmanager
def stage_span(
    parent: Span,
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    start_time: int | None = None,
    end_time: int | None = None,
) -> Iterator[Span]:
    """A child span of ``parent`` for one stage; batch stages pass the batch call's times."""
    context = trace.set_span_in_context(parent)
    span = _tracer.start_span(
        name, context=context, attributes=dict(attributes or {}), start_time=start_time
    )
    try:
        yield span
    except BaseException as exc:
        # The exception's type only: messages can quote payload values (personal data).
        span.set_attribute("error.type", type(exc).__name__)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end(end_time=end_time)


@contextmanager
def outbound_span(
    traceparent: str | None, name: str, attributes: Mapping[str, Any]
) -> Iterator[Span]:
    """The current span of one outbound action (a push to a channel) caused by a ledger change.

    Its parent is the message whose change the ledger's outbox recorded, so the trace of an order
    webhook continues to the inventory push it caused; the connector's HTTP spans nest inside.
    """
    parent = _propagator.extract({"traceparent": traceparent} if traceparent else {})
    with _tracer.start_as_current_span(
        name,
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes=dict(attributes),
        record_exception=False,  # exception messages can quote vendor answers
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def traceparent_of(span: Span) -> str | None:
    """The W3C traceparent that makes ``span`` the parent of what comes next."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def trace_id_of(span: Span) -> str | None:
    context = span.get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
