"""Retry: which failures are worth another try, and how long to wait before it.

Transient failures (timeouts, connection errors, HTTP 5xx, HTTP 429, a locked or unavailable
database) are retried with exponential backoff and full jitter, capped; HTTP 429 waits at least as
long as the server's ``Retry-After``. Everything else is permanent and goes straight to the
dead-letter store: retrying a validation error only delays the person who has to fix it.

Short retries happen in process (tenacity); long ones by broker redelivery, so a worker is never
blocked for minutes on one message.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from router.errors import PermanentError, RateLimitedError, TransientError

__all__ = ["RetryPolicy", "backoff_delay", "is_transient", "retry_after", "run_with_retries"]

T = TypeVar("T")


class RetryPolicy(BaseModel):
    """A route's retry policy, as declared in the deployment configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    in_process_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    base_delay: Annotated[float, Field(gt=0, le=60)] = 0.2
    max_delay: Annotated[float, Field(gt=0, le=3600)] = 60.0
    multiplier: Annotated[float, Field(ge=1, le=10)] = 2.0


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1): full jitter, capped.

    Full jitter (a uniform draw up to the exponential bound) spreads retries of many workers that
    failed together, so a recovering database is not hit by all of them at the same instant.
    """
    bound = min(policy.max_delay, policy.base_delay * policy.multiplier ** max(0, attempt - 1))
    return (rng or random).uniform(0, bound)


def retry_after(error: BaseException) -> float | None:
    """The server's requested wait, from a :class:`RateLimitedError` or an HTTP 429/503 response."""
    if isinstance(error, RateLimitedError):
        return error.retry_after
    if isinstance(error, httpx.HTTPStatusError):
        header = error.response.headers.get("Retry-After")
        if header is None:
            return None
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = parsedate_to_datetime(header)
            except (TypeError, ValueError):
                return None
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def _database_transient(error: BaseException) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        return "locked" in str(error) or "busy" in str(error)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    if isinstance(error, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return True
    return isinstance(error, psycopg.OperationalError)


def _redis_transient(error: BaseException) -> bool:
    import redis.exceptions

    return isinstance(
        error,
        redis.exceptions.ConnectionError
        | redis.exceptions.TimeoutError
        | redis.exceptions.BusyLoadingError,
    )


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may go away by itself (retry) or needs a person (dead-letter)."""
    if isinstance(error, TransientError):
        return True
    if isinstance(error, PermanentError):
        return False
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        return status == 429 or status >= 500
    if isinstance(error, httpx.TimeoutException | httpx.TransportError):
        return True
    if isinstance(error, TimeoutError | ConnectionError):
        return True
    return _database_transient(error) or _redis_transient(error)


async def run_with_retries(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> T:
    """Run ``operation``, retrying transient failures up to ``policy.in_process_attempts`` times.

    ``on_retry(attempt, error, delay)`` is told about every retry (the audit log records them). The
    last error is raised unchanged, for the caller to hand to broker redelivery or dead-lettering.
    """

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        delay = backoff_delay(policy, state.attempt_number)
        requested = retry_after(error) if error else None
        if requested is not None:
            delay = max(delay, min(requested, policy.max_delay))
        if on_retry is not None and error is not None:
            on_retry(state.attempt_number, error, delay)
        return delay

    options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.in_process_attempts),
        wait=wait,
        retry=retry_if_exception(is_transient),
        reraise=True,
        **options,
    )
    async for attempt in retrying:
        with attempt:
            return await operation()
    raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover
