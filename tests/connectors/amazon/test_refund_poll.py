"""The Amazon refunds poll: listFinancialEvents by posted date, NextToken pages, rate limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from connectors.amazon import AmazonConnector
from connectors.base import dump_payload, load_payload
from connectors.errors import PaginationLoopError, RequestRejected
from connectors.pagination import TimeWindow
from tests.connectors.amazon.test_conformance import API, CONFIG, CTX, FIXTURES, WINDOW

FINANCES = f"{API}/finances/v0/financialEvents"
TOKEN = "2YgYW55IGNhcm5hbCBwbGVhcw"
JSON = {"Content-Type": "application/json"}


def documented_page() -> Any:
    return load_payload((FIXTURES / "listFinancialEvents_refunds.json").read_bytes())


def response(body: Any) -> httpx.Response:
    return httpx.Response(200, content=dump_payload(body), headers=JSON)


def second_page() -> Any:
    """A last page: one more refund (another adjustment of the mug), no NextToken."""
    event = documented_page()["payload"]["FinancialEvents"]["RefundEventList"][1]
    event = {**event, "AmazonOrderId": "113-1111111-2222222", "PostedDate": "2026-03-07T08:00:00Z"}
    event["ShipmentItemAdjustmentList"][0]["OrderAdjustmentItemId"] = "52071937504419"
    return {"payload": {"FinancialEvents": {"RefundEventList": [event], "ShipmentEventList": []}}}


def connector(**overrides: Any) -> AmazonConnector:
    return AmazonConnector({**CONFIG, **overrides}, sleep=lambda _s: None)


def test_the_refunds_poll_is_declared_next_to_the_orders_poll() -> None:
    specs = AmazonConnector.poll_specs()
    assert set(specs) == {"orders", "refunds"}
    assert specs["orders"].event == "getOrder"
    assert specs["refunds"].event == "refundEvent"
    assert specs["refunds"].windowed is True
    assert AmazonConnector.check_declaration() == []
    assert AmazonConnector.describe()["polls"]["refunds"] == {
        "event": "refundEvent",
        "windowed": True,
    }
    assert AmazonConnector.events["refundEvent"].emits == ("payment.refunded",)


def test_the_poll_follows_next_token_pages_and_yields_refund_events_only() -> None:
    first = documented_page()
    first["payload"]["NextToken"] = TOKEN
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(FINANCES).mock(side_effect=[response(first), response(second_page())])
        items = list(connector().poll("refunds", WINDOW))
    params = [dict(call.request.url.params) for call in route.calls]
    assert params == [
        {
            "PostedAfter": "2026-03-01T00:00:00+00:00",
            "PostedBefore": "2026-03-02T00:00:00+00:00",
            "MaxResultsPerPage": "100",
        },
        {"NextToken": TOKEN},  # a later page sends only the token
    ]
    assert all(
        call.request.headers["x-amz-access-token"] == CONFIG["access_token"] for call in route.calls
    )
    assert [item["AmazonOrderId"] for item in items] == [
        "113-5678901-2345678",
        "114-3941689-8772232",
        "113-1111111-2222222",
    ]
    # each item is the refundEvent payload, exactly as the hub hands it over (JSON round trip)
    envelopes = [
        envelope
        for item in items
        for envelope in AmazonConnector.translate(
            "refundEvent", load_payload(dump_payload(item)), CTX
        )
    ]
    assert [e.event_type for e in envelopes] == ["payment.refunded"] * 3
    assert len({e.idempotency_key for e in envelopes}) == 3


def test_re_polling_an_overlapping_window_yields_duplicates_not_new_refunds() -> None:
    amazon = connector()
    later = TimeWindow(WINDOW.start + timedelta(hours=12), WINDOW.end + timedelta(hours=12))
    with respx.mock() as mock:
        mock.get(FINANCES).mock(side_effect=lambda _r: response(documented_page()))
        first = list(amazon.poll("refunds", WINDOW))
        second = list(amazon.poll("refunds", later))

    def keys(items: list[Any]) -> list[str]:
        return [
            e.idempotency_key
            for item in items
            for e in AmazonConnector.translate("refundEvent", item, CTX)
        ]

    assert keys(second) == keys(first)


def test_posted_before_is_held_two_minutes_before_now() -> None:
    amazon = connector()
    now = datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC)
    amazon._now = lambda: now  # type: ignore[method-assign]
    with respx.mock() as mock:
        route = mock.get(FINANCES).mock(return_value=response(documented_page()))
        list(amazon.poll("refunds", TimeWindow(WINDOW.start, now)))
        assert route.calls.last.request.url.params["PostedBefore"] == "2026-03-01T23:58:30+00:00"
        # a window entirely within the last two minutes: nothing to ask yet
        recent = TimeWindow(now - timedelta(seconds=90), now)
        assert list(amazon.poll("refunds", recent)) == []
        assert route.call_count == 1


def test_a_window_longer_than_180_days_is_read_in_parts() -> None:
    window = TimeWindow(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC))
    with respx.mock() as mock:
        route = mock.get(FINANCES).mock(
            side_effect=lambda _r: response({"payload": {"FinancialEvents": {}}})
        )
        assert list(connector().poll("refunds", window)) == []
    spans = [
        (call.request.url.params["PostedAfter"], call.request.url.params["PostedBefore"])
        for call in route.calls
    ]
    assert spans == [
        ("2025-01-01T00:00:00+00:00", "2025-06-30T00:00:00+00:00"),
        ("2025-06-30T00:00:00+00:00", "2025-12-01T00:00:00+00:00"),
    ]


def test_the_refunds_poll_needs_a_window() -> None:
    with pytest.raises(ValueError, match="time window"):
        connector().poll("refunds", None)


def test_a_repeated_next_token_stops_the_poll() -> None:
    page = documented_page()
    page["payload"]["NextToken"] = TOKEN
    with respx.mock() as mock:
        mock.get(FINANCES).mock(side_effect=lambda _r: response(page))
        with pytest.raises(PaginationLoopError):
            list(connector().poll("refunds", WINDOW))


def test_an_invalid_input_answer_is_a_typed_refusal() -> None:
    invalid = {"errors": [{"code": "InvalidInput", "message": "Date range is invalid."}]}
    with respx.mock() as mock:
        mock.get(FINANCES).mock(return_value=httpx.Response(400, json=invalid))
        with pytest.raises(RequestRejected):
            list(connector().poll("refunds", WINDOW))


def test_list_financial_events_spends_its_own_rate_and_burst() -> None:
    policy = connector().rate_limit_policy()
    assert policy.rates["listFinancialEvents"] == (0.5, 30)
    clock = [100.0]
    policy.clock = lambda: clock[0]
    waits = [policy.before_request("listFinancialEvents") for _ in range(31)]
    assert waits[:30] == [0.0] * 30  # the burst
    assert waits[30] == pytest.approx(2.0)  # then one request every two seconds
    assert policy.before_request("getOrders") == 0.0  # another operation's bucket is untouched


def test_the_poll_waits_for_the_rate_once_the_burst_is_spent() -> None:
    slept: list[float] = []
    amazon = AmazonConnector(CONFIG, sleep=slept.append)
    pages = []
    for index in range(31):
        body: dict[str, Any] = {"payload": {"FinancialEvents": {"RefundEventList": []}}}
        if index < 30:
            body["payload"]["NextToken"] = f"page-{index + 1}"
        pages.append(response(body))
    with respx.mock() as mock:
        route = mock.get(FINANCES).mock(side_effect=pages)
        assert list(amazon.poll("refunds", WINDOW)) == []
    assert route.call_count == 31
    assert len(slept) == 1
    assert slept[0] == pytest.approx(2.0, abs=0.5)
