"""Errors of the routing core, grouped by what the router does with the message.

    RouterError
    ├── TransientError        retry: a timeout, a connection error, HTTP 5xx, HTTP 429
    │   └── RateLimitedError  retry no sooner than ``retry_after`` seconds
    └── PermanentError        never retry: dead-letter with the reason
        ├── MalformedMessageError   the raw body cannot be parsed or translated
        └── UnroutableError         no route or translator for the message

Classification of foreign exceptions (httpx, redis, database drivers) lives in
:func:`router.retry.is_transient`, so that connectors and stores need not know about retries.
"""

from __future__ import annotations


class RouterError(Exception):
    """Root of the errors the routing core raises on purpose."""

    code = "router_error"


class TransientError(RouterError):
    """The operation may succeed if tried again later."""

    code = "transient"


class RateLimitedError(TransientError):
    """The other side asked us to slow down; do not retry before ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(RouterError):
    """Trying again cannot help; the message goes to the dead-letter store with this reason."""

    code = "permanent"


class MalformedMessageError(PermanentError):
    """The message cannot be parsed, translated or validated."""

    code = "malformed"


class UnroutableError(PermanentError):
    """No route accepts the message (unknown connector instance or event)."""

    code = "unroutable"
