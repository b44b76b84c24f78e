"""The outbox relay and the outbound dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from router.errors import RateLimitedError, TransientError
from router.outbound import Dispatcher, OutboxEvent, coalesce
from router.retry import RetryPolicy
from tests.router.test_pipeline import Stores

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _event(
    event_id: int, key: str = "SKU-1:amazon_us", kind: str = "availability.changed"
) -> OutboxEvent:
    return OutboxEvent(event_id, "acme", kind, key, {"available": event_id}, T0)


class ListOutbox:
    def __init__(self, events: list[OutboxEvent]) -> None:
        self.events = events
        self.published: set[int] = set()

    def pending(self, limit: int) -> list[OutboxEvent]:
        return [e for e in self.events if e.id not in self.published][:limit]

    def mark_published(self, ids: Sequence[int]) -> None:
        self.published.update(ids)


async def test_the_lanes_wait_out_an_outbox_outage_and_stop_on_request() -> None:
    """A transient failure reading the outbox (the database down) is waited out with backoff;
    nothing is lost and the relay stops when asked."""
    from router.outbound import run_lanes

    class Flaky(PositionedOutbox):
        failures = 2

        def pending(self, limit: int, after_id: int = 0) -> list[OutboxEvent]:  # type: ignore[override]
            if self.failures:
                self.failures -= 1
                raise TransientError("database down")
            return super().pending(limit, after_id)

    received: list[int] = []

    async def push(event: OutboxEvent) -> None:
        received.append(event.id)

    outbox = Flaky([_event(i, key=f"SKU-{i}") for i in range(1, 4)])
    dispatcher = Dispatcher(routes=lambda event: [("amazon_us", push)], dead_letters=Stores())
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_lanes(
            outbox,
            dispatcher,
            stop=stop,
            idle_wait=0.01,
            policy=RetryPolicy(base_delay=0.01, max_delay=0.02),
        )
    )
    await _until(lambda: outbox.published == {1, 2, 3})
    stop.set()
    await asyncio.wait_for(task, 5)
    assert outbox.failures == 0
    assert received == [1, 2, 3]


def test_coalescing_keeps_the_newest_level_and_every_other_event() -> None:
    events = [
        _event(1),
        _event(2, kind="fulfillment.requested", key="o1"),
        _event(3),
        _event(4, key="SKU-2:amazon_us"),
        _event(5, kind="fulfillment.requested", key="o1"),
    ]
    assert [e.id for e in coalesce(events)] == [2, 3, 4, 5]


async def test_dispatch_retries_transient_failures_and_dead_letters_the_rest() -> None:
    calls: list[tuple[str, int]] = []
    flaky = {"left": 2}

    async def push(event: OutboxEvent) -> None:
        calls.append(("amazon_us", event.id))
        if flaky["left"]:
            flaky["left"] -= 1
            raise RateLimitedError("429", retry_after=0)

    async def broken(event: OutboxEvent) -> None:
        raise ValueError("sku not listed on this channel")

    stores = Stores()
    results: list[tuple[int, str, str]] = []
    dispatcher = Dispatcher(
        routes=lambda event: [("amazon_us", push), ("woo_eu", broken)],
        dead_letters=stores,
        policy=RetryPolicy(in_process_attempts=3, base_delay=0.001, max_delay=0.002),
        on_result=lambda e, d, outcome, reason: results.append((e.id, d, outcome)),
    )
    await dispatcher.dispatch([_event(1), _event(2)])  # coalesced to event 2
    assert calls == [("amazon_us", 2)] * 3
    assert sorted(results) == [(2, "amazon_us", "delivered"), (2, "woo_eu", "rejected")]
    [letter] = stores.letters
    assert letter.stage == "outbound"
    assert letter.raw.instance == "woo_eu"
    assert "sku not listed" in letter.reason


class PositionedOutbox(ListOutbox):
    """An outbox read past a position, as the ledger's (``LaneSource``)."""

    def pending(self, limit: int, after_id: int = 0) -> list[OutboxEvent]:  # type: ignore[override]
        return [e for e in self.events if e.id not in self.published and e.id > after_id][:limit]


async def _until(condition, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def test_a_slow_destination_delays_only_its_own_lane() -> None:
    """Amazon answering slowly (its quota) must not hold Shopify's pushes back; an event is
    published only when every destination has finished with it."""
    from router.outbound import run_lanes

    fast_seen: list[int] = []
    slow_seen: list[int] = []
    release = asyncio.Event()

    async def fast(event: OutboxEvent) -> None:
        fast_seen.append(event.id)

    async def slow(event: OutboxEvent) -> None:
        slow_seen.append(event.id)
        await release.wait()

    events = [_event(i, key=f"SKU-{i}") for i in range(1, 4)]
    outbox = PositionedOutbox(events)
    dispatcher = Dispatcher(
        routes=lambda event: [("amazon_us", slow), ("shopify_us", fast)], dead_letters=Stores()
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_lanes(outbox, dispatcher, stop=stop, idle_wait=0.01))
    try:
        await _until(lambda: fast_seen == [1, 2, 3])
        outbox.events.append(_event(4, key="SKU-4"))  # written while Amazon is still busy
        await _until(lambda: fast_seen == [1, 2, 3, 4])
        assert outbox.published == set()  # Amazon still has them
        release.set()
        await _until(lambda: outbox.published == {1, 2, 3, 4})
        assert sorted(slow_seen) == [1, 2, 3, 4]
    finally:
        stop.set()
        await task


async def test_a_lane_keeps_order_and_sends_only_the_newest_level_that_queued_up() -> None:
    from router.outbound import run_lanes

    sent: list[int] = []
    gate = asyncio.Event()

    async def push(event: OutboxEvent) -> None:
        sent.append(event.id)
        if event.id == 1:
            await gate.wait()  # the lane is busy while 2 and 3 arrive

    outbox = PositionedOutbox([_event(1)])
    dispatcher = Dispatcher(routes=lambda event: [("amazon_us", push)], dead_letters=Stores())
    stop = asyncio.Event()
    task = asyncio.create_task(run_lanes(outbox, dispatcher, stop=stop, idle_wait=0.01))
    try:
        await _until(lambda: sent == [1])
        outbox.events += [_event(2), _event(3), _event(4, kind="fulfillment.requested", key="o1")]
        await asyncio.sleep(0.1)
        gate.set()
        await _until(lambda: outbox.published == {1, 2, 3, 4})
        assert sent == [1, 3, 4]  # 2 was superseded by 3 before its turn; 1 went first
    finally:
        stop.set()
        await task


async def test_what_a_lane_had_not_finished_at_stop_is_relayed_again() -> None:
    from router.outbound import run_lanes

    async def hangs(event: OutboxEvent) -> None:
        await asyncio.sleep(60)

    outbox = PositionedOutbox([_event(1)])
    dispatcher = Dispatcher(routes=lambda event: [("amazon_us", hangs)], dead_letters=Stores())
    stop = asyncio.Event()
    task = asyncio.create_task(run_lanes(outbox, dispatcher, stop=stop, grace=0.1))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert outbox.published == set()
    assert [e.id for e in outbox.pending(10)] == [1]
