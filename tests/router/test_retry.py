"""Retry classification, backoff bounds and in-process retries."""

from __future__ import annotations

import random
import sqlite3

import httpx
import pytest
import redis.exceptions
from hypothesis import given
from hypothesis import strategies as st

from router.errors import MalformedMessageError, RateLimitedError, TransientError
from router.retry import RetryPolicy, backoff_delay, is_transient, retry_after, run_with_retries


def _status_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://example.test/")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError("boom", request=request, response=response)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientError("x"), True),
        (MalformedMessageError("x"), False),
        (_status_error(500), True),
        (_status_error(503), True),
        (_status_error(429), True),
        (_status_error(400), False),
        (_status_error(404), False),
        (_status_error(422), False),
        (httpx.ConnectTimeout("t"), True),
        (httpx.ConnectError("c"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: x"), False),
        (redis.exceptions.ConnectionError("down"), True),
        (ValueError("bad"), False),
        (KeyError("k"), False),
    ],
)
def test_classification(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_retry_after_from_rate_limit_and_header() -> None:
    assert retry_after(RateLimitedError("slow", retry_after=7)) == 7
    assert retry_after(_status_error(429, {"Retry-After": "12"})) == 12
    assert retry_after(_status_error(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after(_status_error(429)) is None


@given(st.integers(1, 60), st.integers(0, 2**32))
def test_backoff_is_bounded_and_grows(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=5)
    delay = backoff_delay(policy, attempt, random.Random(seed))
    assert 0 <= delay <= min(5, 0.1 * 2 ** (attempt - 1))


async def test_transient_failures_are_retried_then_succeed() -> None:
    calls: list[int] = []
    retries: list[tuple[int, str, float]] = []
    slept: list[float] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _status_error(429, {"Retry-After": "2"})
        return "ok"

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    result = await run_with_retries(
        flaky,
        RetryPolicy(in_process_attempts=3, max_delay=10),
        on_retry=lambda n, e, d: retries.append((n, type(e).__name__, d)),
        sleep=fake_sleep,
    )
    assert result == "ok"
    assert len(calls) == 3
    assert [r[0] for r in retries] == [1, 2]
    assert all(s >= 2 for s in slept)  # Retry-After honoured


async def test_permanent_failures_are_not_retried() -> None:
    calls: list[int] = []

    async def broken() -> None:
        calls.append(1)
        raise MalformedMessageError("bad body")

    with pytest.raises(MalformedMessageError):
        await run_with_retries(broken, RetryPolicy())
    assert calls == [1]


async def test_retries_give_up_with_the_last_error() -> None:
    async def down() -> None:
        raise TransientError("still down")

    async def no_sleep(seconds: float) -> None:
        return None

    with pytest.raises(TransientError, match="still down"):
        await run_with_retries(down, RetryPolicy(in_process_attempts=4), sleep=no_sleep)
