"""The shared HTTP client: retries, Retry-After, rate limits, typed errors, spans, quiet logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest
import respx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connectors import http as hub_http
from connectors.errors import (
    AuthenticationError,
    ConnectorTimeout,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
from connectors.http import HttpClient, OperationRateLimiter, ShopifyCallLimit, parse_retry_after

BASE = "https://vendor.test"


def client(sleeps: list[float], **kw: object) -> HttpClient:
    return HttpClient(connector="vendor", base_url=BASE, sleep=sleeps.append, **kw)  # type: ignore[arg-type]


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    now = datetime(2026, 3, 2, 15, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 02 Mar 2026 15:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_429_waits_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/x").mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200)]
        )
        assert client(sleeps).request("GET", "/x", operation="x.get").status_code == 200
    assert route.call_count == 2
    assert sleeps == [2.0]


def test_5xx_backs_off_and_gives_up_with_a_typed_error() -> None:
    sleeps: list[float] = []
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/x").mock(return_value=httpx.Response(502))
        with pytest.raises(UpstreamUnavailable) as caught:
            client(sleeps, max_attempts=3).request("GET", "/x", operation="x.get")
    assert route.call_count == 3
    assert caught.value.status_code == 502
    assert len(sleeps) == 2
    assert all(0 < s <= 30 for s in sleeps)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (403, AuthenticationError), (404, RequestRejected)],
)
def test_client_errors_are_not_retried(status: int, error: type[Exception]) -> None:
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/x").mock(return_value=httpx.Response(status))
        with pytest.raises(error):
            client([]).request("GET", "/x", operation="x.get")
    assert route.call_count == 1


def test_timeouts_are_retried_then_typed() -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/x").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(ConnectorTimeout, match="GET /x timed out"):
            client([], max_attempts=2).request("GET", "/x", operation="x.get")


def test_errors_and_logs_carry_no_query_string_or_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with respx.mock() as mock:
        mock.post(f"{BASE}/orders").mock(
            return_value=httpx.Response(422, json={"error": "card 4242424242424242 is bad"})
        )
        with pytest.raises(RequestRejected) as caught:
            client([]).request(
                "POST", "/orders", operation="orders.create", params={"api_key": "k3y-in-query"},
                json={"email": "jane@example.com"},
            )  # fmt: skip
    text = str(caught.value) + caplog.text
    for secret in ("k3y-in-query", "4242424242424242", "jane@example.com"):
        assert secret not in text
    assert "POST /orders answered HTTP 422" in str(caught.value)


def test_shopify_call_limit_waits_when_the_bucket_is_nearly_full() -> None:
    sleeps: list[float] = []
    limit = ShopifyCallLimit(leak_rate=2.0, threshold=0.8)
    with respx.mock() as mock:
        mock.get(f"{BASE}/orders.json").mock(
            return_value=httpx.Response(200, headers={"X-Shopify-Shop-Api-Call-Limit": "39/40"})
        )
        http = client(sleeps, rate_limit=limit)
        http.request("GET", "/orders.json", operation="orders.list")
        assert sleeps == []
        http.request("GET", "/orders.json", operation="orders.list")
    assert sleeps == [(39 - 32 + 1) / 2.0]


def test_operation_rate_limiter_spends_burst_then_waits_by_rate() -> None:
    now = [0.0]
    limiter = OperationRateLimiter({"getOrders": (0.5, 2)}, clock=lambda: now[0])
    assert limiter.before_request("getOrders") == 0
    assert limiter.before_request("getOrders") == 0
    assert limiter.before_request("getOrders") == pytest.approx(2.0)
    assert limiter.before_request("otherOperation") == 0


def test_one_span_per_attempt_with_hub_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(hub_http, "tracer", provider.get_tracer("test"))
    with respx.mock() as mock:
        mock.get(f"{BASE}/x").mock(side_effect=[httpx.Response(503), httpx.Response(200)])
        client([]).request("GET", "/x", operation="x.get")
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["vendor x.get", "vendor x.get"]
    assert spans[0].attributes is not None
    assert spans[0].attributes["hub.connector"] == "vendor"
    assert spans[0].attributes["http.response.status_code"] == 503
    assert spans[0].attributes["error.type"] == "upstream_unavailable"
    assert spans[1].status.is_ok


def test_persistent_429_raises_rate_limited_with_retry_after() -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "3"}))
        with pytest.raises(RateLimited) as caught:
            client([], max_attempts=2).request("GET", "/x", operation="x.get")
    assert caught.value.retry_after == 3.0
    assert caught.value.code == "rate_limited"


def test_shopify_graphql_cost_waits_for_the_bucket_to_refill() -> None:
    from connectors.http import ShopifyGraphQLCost

    sleeps: list[float] = []
    cost = ShopifyGraphQLCost(expected_cost=100)
    throttle = {"maximumAvailable": 1000.0, "currentlyAvailable": 20, "restoreRate": 50.0}
    body = {
        "data": {},
        "extensions": {"cost": {"requestedQueryCost": 101, "throttleStatus": throttle}},
    }
    with respx.mock() as mock:
        mock.post(f"{BASE}/graphql.json").mock(return_value=httpx.Response(200, json=body))
        http = client(sleeps, rate_limit=cost)
        http.request(
            "POST", "/graphql.json", operation="graphql", json={"query": "{ shop { id } }"}
        )
        http.request(
            "POST", "/graphql.json", operation="graphql", json={"query": "{ shop { id } }"}
        )
    assert sleeps == [(100 - 20) / 50.0]
