"""One connected trace per message through the pipeline, with no personal data in it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.router.test_pipeline import MemoryLedger, Stores, _raw, _router

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_stages_join_the_trace_the_delivery_arrived_with(spans: Any) -> None:
    ledger, stores = MemoryLedger(), Stores()
    raw = replace(_raw("r1", "42"), traceparent=INCOMING)
    await _router(ledger, stores).process([raw])
    finished = {span.name: span for span in spans.get_finished_spans()}
    route = finished["hub.route orders/create"]
    assert f"{route.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert route.parent is not None
    assert f"{route.parent.span_id:016x}" == "00f067aa0ba902b7"
    for stage in ("hub.translate", "hub.govern", "hub.ledger.apply"):
        assert finished[stage].parent.span_id == route.context.span_id, stage
        assert finished[stage].context.trace_id == route.context.trace_id
    assert route.attributes["messaging.message.id"] == "r1"
    assert route.attributes["hub.outcome"] == "applied"
    assert finished["hub.ledger.apply"].attributes["hub.order_key"] == "shopify_us:42"

    [envelope] = ledger.applied.values()
    assert envelope.traceparent is not None
    assert envelope.traceparent.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert {r.trace_id for r in stores.records} == {"4bf92f3577b34da6a3ce929d0e0e4736"}


async def test_no_personal_data_reaches_span_attributes_or_events(spans: Any) -> None:
    await _router(MemoryLedger(), Stores()).process([_raw("r1", "7"), _raw("bad", body=b"{x")])
    text = repr(
        [
            (s.name, dict(s.attributes or {}), [e.attributes for e in s.events])
            for s in spans.get_finished_spans()
        ]
    )
    for value in ("Jane Doe", "jane@example.com", "123 Main Street", "+1 217 555 0100"):
        assert value not in text
