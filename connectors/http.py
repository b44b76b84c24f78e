"""The one outbound HTTP client every connector uses: timeouts, retries, rate limits, spans.

:class:`HttpClient` wraps ``httpx.Client`` so that every vendor call behaves the same way:

* a timeout on every request (a hung vendor must not hang the hub);
* responses classified into the error hierarchy (429 -> :class:`RateLimited` with ``retry_after``,
  5xx and broken connections -> :class:`UpstreamUnavailable`, timeouts -> :class:`ConnectorTimeout`,
  401/403 -> :class:`AuthenticationError`, other 4xx -> :class:`RequestRejected`);
* tenacity retries for retriable errors only, honouring ``Retry-After``, then the typed error;
* vendor rate limits beyond 429 through a :class:`RateLimitPolicy` (Shopify's leaky bucket from
  ``X-Shopify-Shop-Api-Call-Limit``, per-operation token buckets for Amazon SP-API);
* one OpenTelemetry span per attempt with ``hub.connector`` and ``hub.operation``;
* request and response bodies, query strings and headers never reach logs or error messages: a
  query string can hold a key and a body holds personal data.

The transport is injectable (``transport=``), so tests use respx or ``httpx.MockTransport``.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    ConnectorTimeout,
    RateLimited,
    RequestRejected,
    RetriableError,
    UpstreamUnavailable,
)
from connectors.metrics import OUTBOUND_CALLS, OUTBOUND_SECONDS, RATE_LIMITED, outcome_of

__all__ = [
    "HttpClient",
    "OperationRateLimiter",
    "RateLimitPolicy",
    "ShopifyCallLimit",
    "ShopifyGraphQLCost",
    "classify_response",
    "parse_retry_after",
]

logger = logging.getLogger("commerce_hub.connectors.http")
tracer = trace.get_tracer("commerce_hub.connectors")


class _StripQueryStrings(logging.Filter):
    """httpx logs every request's full URL at INFO; query strings can carry keys, so drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


if not any(isinstance(f, _StripQueryStrings) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_StripQueryStrings())

#: Longest wait we accept from a Retry-After before giving up instead (seconds).
MAX_RETRY_AFTER = 60.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _where(request: httpx.Request) -> str:
    """Method and path only: the query string may carry tokens, the body personal data."""
    return f"{request.method} {request.url.path}"


def classify_response(
    response: httpx.Response, *, connector: str, operation: str
) -> ConnectorError | None:
    """The error a response stands for, or None when it is a success."""
    status = response.status_code
    if status < 400:
        return None
    where = f"{_where(response.request)} answered HTTP {status}"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimited(where, retry_after=retry_after, connector=connector, operation=operation)
    if status >= 500:
        return UpstreamUnavailable(
            where, status_code=status, connector=connector, operation=operation
        )
    if status in (401, 403):
        return AuthenticationError(where, connector=connector, operation=operation)
    return RequestRejected(where, status_code=status, connector=connector, operation=operation)


class RateLimitPolicy(Protocol):
    """A vendor's rate-limit behaviour beyond 429: wait before a call, learn from a response."""

    def before_request(self, operation: str) -> float:
        """Seconds to wait before calling ``operation`` now (0 for none)."""
        ...

    def after_response(self, operation: str, response: httpx.Response) -> None: ...


class ShopifyCallLimit:
    """Shopify REST's leaky bucket, read from ``X-Shopify-Shop-Api-Call-Limit: 32/40``.

    The bucket leaks ``leak_rate`` calls per second (2 on standard plans). When the last response
    says the bucket is above ``threshold`` full, the next call waits until it has drained below.
    """

    header = "X-Shopify-Shop-Api-Call-Limit"

    def __init__(self, *, leak_rate: float = 2.0, threshold: float = 0.8) -> None:
        self.leak_rate = leak_rate
        self.threshold = threshold
        self.used = 0
        self.limit = 40

    def before_request(self, operation: str) -> float:
        allowed = int(self.limit * self.threshold)
        if self.used < allowed:
            return 0.0
        return (self.used - allowed + 1) / self.leak_rate

    def after_response(self, operation: str, response: httpx.Response) -> None:
        value = response.headers.get(self.header)
        if not value or "/" not in value:
            return
        used, _, limit = value.partition("/")
        try:
            self.used, self.limit = int(used), int(limit)
        except ValueError:
            return


class ShopifyGraphQLCost:
    """Shopify GraphQL's calculated-cost bucket, read from ``extensions.cost.throttleStatus``.

    After each response the bucket's ``currentlyAvailable`` points and ``restoreRate`` are known;
    before the next query the client waits until ``expected_cost`` points will be available.
    """

    def __init__(self, *, expected_cost: float = 100.0) -> None:
        self.expected_cost = expected_cost
        self.available: float | None = None
        self.restore_rate = 50.0

    def before_request(self, operation: str) -> float:
        if self.available is None or self.available >= self.expected_cost:
            return 0.0
        return (self.expected_cost - self.available) / self.restore_rate

    def after_response(self, operation: str, response: httpx.Response) -> None:
        try:
            status = response.json()["extensions"]["cost"]["throttleStatus"]
            self.available = float(status["currentlyAvailable"])
            self.restore_rate = float(status["restoreRate"]) or self.restore_rate
        except (ValueError, KeyError, TypeError):
            return


class OperationRateLimiter:
    """Token buckets per operation (Amazon SP-API publishes a rate and burst per operation)."""

    def __init__(
        self,
        rates: Mapping[str, tuple[float, int]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = dict(rates)
        self.clock = clock
        self._tokens: dict[str, float] = {op: float(burst) for op, (_, burst) in self.rates.items()}
        self._stamp: dict[str, float] = {}
        self._lock = threading.Lock()

    def before_request(self, operation: str) -> float:
        if operation not in self.rates:
            return 0.0
        rate, burst = self.rates[operation]
        with self._lock:
            now = self.clock()
            last = self._stamp.get(operation, now)
            tokens = min(float(burst), self._tokens[operation] + (now - last) * rate)
            self._stamp[operation] = now
            if tokens >= 1:
                self._tokens[operation] = tokens - 1
                return 0.0
            self._tokens[operation] = tokens - 1
            return (1 - tokens) / rate

    def after_response(self, operation: str, response: httpx.Response) -> None:
        return None


class HttpClient:
    """httpx.Client plus the hub's retry, rate-limit, error and tracing rules (see module doc)."""

    def __init__(
        self,
        *,
        connector: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 15.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        rate_limit: RateLimitPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.connector = connector
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rate_limit = rate_limit
        self.sleep = sleep or time.sleep
        #: Requests that may have reached the vendor without the hub learning the outcome (the
        #: answer timed out or the connection broke after sending): a level the vendor applies
        #: late can overwrite a newer one, so the hub re-sends the current level afterwards.
        self.uncertain = 0
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"<HttpClient {self.connector} {self._client.base_url}>"

    def close(self) -> None:
        self._client.close()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER)
        exponential: float = self.backoff_base * 2.0 ** (state.attempt_number - 1)
        return min(self.backoff_max, exponential) * (0.5 + random.random() / 2)

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request with retries; returns a 2xx/3xx response or raises a ConnectorError.

        ``json`` sends a JSON body, ``data`` a form-encoded one (Stripe), ``content`` raw bytes
        (JSON with exact decimal numbers from :func:`connectors.base.dump_payload`). Callers that create
        things pass a vendor idempotency header, so a retry after a lost response is safe.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            retry=retry_if_exception_type(RetriableError),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(
            self._attempt, method, url, operation=operation, params=params, json=json,
            data=data, content=content, headers=headers,
        )  # fmt: skip

    def _attempt(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        if self.rate_limit is not None:
            delay = self.rate_limit.before_request(operation)
            if delay > 0:
                self.sleep(delay)
        request = self._client.build_request(
            method, url, params=params, json=json, data=data, content=content, headers=headers
        )
        attributes = {
            "hub.connector": self.connector,
            "hub.operation": operation,
            "http.request.method": method,
            "server.address": request.url.host,
            "url.path": request.url.path,
        }
        with tracer.start_as_current_span(
            f"{self.connector} {operation}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            started = time.monotonic()
            try:
                response = self._client.send(request)
            except httpx.TimeoutException as exc:
                if not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
                    self.uncertain += 1  # sent, perhaps applied: we will never know
                OUTBOUND_CALLS.labels(self.connector, operation, "timeout").inc()
                error: ConnectorError = ConnectorTimeout(
                    f"{_where(request)} timed out", connector=self.connector, operation=operation
                )
                span.set_status(Status(StatusCode.ERROR, error.code))
                span.set_attribute("error.type", error.code)
                raise error from None
            except httpx.TransportError as exc:
                if isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError)):
                    self.uncertain += 1
                OUTBOUND_CALLS.labels(self.connector, operation, "error").inc()
                error = UpstreamUnavailable(
                    f"{_where(request)} failed: {type(exc).__name__}",
                    connector=self.connector,
                    operation=operation,
                )
                span.set_status(Status(StatusCode.ERROR, error.code))
                span.set_attribute("error.type", error.code)
                raise error from None
            span.set_attribute("http.response.status_code", response.status_code)
            OUTBOUND_CALLS.labels(self.connector, operation, outcome_of(response.status_code)).inc()
            OUTBOUND_SECONDS.labels(self.connector).observe(time.monotonic() - started)
            if response.status_code == 429:
                RATE_LIMITED.labels(self.connector).inc()
            logger.info(
                "%s %s %s -> %s in %.0f ms",
                self.connector,
                operation,
                _where(request),
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            if self.rate_limit is not None:
                self.rate_limit.after_response(operation, response)
            failure = classify_response(response, connector=self.connector, operation=operation)
            if failure is not None:
                span.set_status(Status(StatusCode.ERROR, failure.code))
                span.set_attribute("error.type", failure.code)
                response.close()
                raise failure
            return response
