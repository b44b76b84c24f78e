"""Errors connectors raise, grouped by what the caller (the router) should do about them.

    ConnectorError(connector, operation, code)
    ├── RetriableError                  try again later (the router's retry policy)
    │   ├── RateLimited                 HTTP 429; ``retry_after`` seconds when the vendor said
    │   ├── UpstreamUnavailable         5xx or a broken connection
    │   └── ConnectorTimeout            no answer in time
    ├── FatalError                      retrying cannot help: dead-letter and alert
    │   ├── AuthenticationError         401/403: a credential is wrong or revoked
    │   ├── RequestRejected             another 4xx: the request itself is wrong
    │   ├── MissingExternalIdError      an outbound push lacks the channel's id for a SKU
    │   └── PaginationLoopError         the vendor handed back a cursor it already gave
    ├── WebhookVerificationError        answer 401 and audit; never parse the body
    ├── TranslationError                the payload cannot become canonical; names the vendor field
    ├── UnknownEventError               the connector does not translate this vendor event
    └── ConnectorConfigError            a connector's configuration is invalid (at startup)
        └── DuplicateConnectorError     two connectors registered under one name

Every class has a stable ``code`` (:data:`ErrorCode`) that logs, metrics and the audit trail use
instead of class names. Messages never contain credentials or response bodies: they name the
operation, the status and the field, which is what an operator needs and nothing an attacker wants.
"""

from __future__ import annotations

from typing import ClassVar, Literal

__all__ = [
    "AuthenticationError",
    "ConnectorConfigError",
    "ConnectorError",
    "ConnectorTimeout",
    "DuplicateConnectorError",
    "ErrorCode",
    "FatalError",
    "MissingExternalIdError",
    "PaginationLoopError",
    "RateLimited",
    "RequestRejected",
    "RetriableError",
    "TooLateToCancel",
    "TranslationError",
    "UnknownConnectorError",
    "UnknownEventError",
    "UpstreamUnavailable",
    "WebhookVerificationError",
]

ErrorCode = Literal[
    "connector_error",
    "retriable",
    "rate_limited",
    "upstream_unavailable",
    "timeout",
    "fatal",
    "authentication_failed",
    "request_rejected",
    "too_late_to_cancel",
    "missing_external_id",
    "pagination_loop",
    "webhook_verification_failed",
    "translation_failed",
    "unknown_event",
    "unknown_connector",
    "invalid_config",
    "duplicate_connector",
]


class ConnectorError(Exception):
    """Root of every error a connector raises on purpose."""

    code: ClassVar[ErrorCode] = "connector_error"

    def __init__(
        self, message: str, *, connector: str | None = None, operation: str | None = None
    ) -> None:
        self.connector = connector
        self.operation = operation
        self.message = message
        prefix = ":".join(part for part in (connector, operation) if part)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class RetriableError(ConnectorError):
    """A transient failure: the same call may succeed later."""

    code: ClassVar[ErrorCode] = "retriable"


class RateLimited(RetriableError):  # noqa: N818 - the names of the documented hierarchy
    """The vendor asked us to slow down (HTTP 429); ``retry_after`` is in seconds when known."""

    code: ClassVar[ErrorCode] = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        connector: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, connector=connector, operation=operation)


class UpstreamUnavailable(RetriableError):  # noqa: N818 - the names of the documented hierarchy
    """The vendor answered 5xx or the connection broke."""

    code: ClassVar[ErrorCode] = "upstream_unavailable"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        connector: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.status_code = status_code
        super().__init__(message, connector=connector, operation=operation)


class ConnectorTimeout(RetriableError):  # noqa: N818 - the names of the documented hierarchy
    """The vendor did not answer within the configured timeout."""

    code: ClassVar[ErrorCode] = "timeout"


class FatalError(ConnectorError):
    """Retrying the same call cannot succeed; a person or a code change must act."""

    code: ClassVar[ErrorCode] = "fatal"


class AuthenticationError(FatalError):
    """The vendor refused our credentials (401/403)."""

    code: ClassVar[ErrorCode] = "authentication_failed"


class RequestRejected(FatalError):  # noqa: N818 - the names of the documented hierarchy
    """The vendor refused the request itself (a 4xx other than 401, 403 and 429)."""

    code: ClassVar[ErrorCode] = "request_rejected"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        connector: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.status_code = status_code
        super().__init__(message, connector=connector, operation=operation)


class TooLateToCancel(RequestRejected):
    """The node cannot cancel what the hub released any more: it was picked, packed or shipped,
    or its label was scanned (``status_code`` when the vendor said so by refusing the cancel).
    The message names the node's order or shipment and what the operator should do instead
    (intercept with the carrier, return to sender, book it as a return).
    """

    code: ClassVar[ErrorCode] = "too_late_to_cancel"


class MissingExternalIdError(FatalError):
    """An outbound push needs the channel's own id for a SKU, and the catalogue has none.

    ``sku`` is the hub's SKU and ``kinds`` the id kinds that would do (any one of them), as the
    catalogue names them (``inventory_item_id``, ``variant_id``, ``product_id``, ``seller_sku``...).
    Retrying cannot help: an operator must add the id to the channel's catalogue row.
    """

    code: ClassVar[ErrorCode] = "missing_external_id"

    def __init__(
        self,
        message: str,
        *,
        sku: str,
        kinds: tuple[str, ...],
        connector: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.sku = sku
        self.kinds = kinds
        super().__init__(message, connector=connector, operation=operation)


class PaginationLoopError(FatalError):
    """A paginator was handed a cursor it had already followed: continuing would loop forever."""

    code: ClassVar[ErrorCode] = "pagination_loop"


class WebhookVerificationError(ConnectorError):
    """A webhook delivery failed signature verification; its body must not be parsed."""

    code: ClassVar[ErrorCode] = "webhook_verification_failed"


class TranslationError(ConnectorError):
    """A vendor payload cannot be translated; ``field`` is the vendor's field path that broke it."""

    code: ClassVar[ErrorCode] = "translation_failed"

    def __init__(
        self,
        message: str,
        *,
        field: str,
        connector: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.field = field
        super().__init__(f"field {field!r}: {message}", connector=connector, operation=operation)


class UnknownEventError(ConnectorError):
    """The connector has no translation for this vendor event name."""

    code: ClassVar[ErrorCode] = "unknown_event"


class UnknownConnectorError(ConnectorError):
    """No connector is registered under this name."""

    code: ClassVar[ErrorCode] = "unknown_connector"


class ConnectorConfigError(ConnectorError):
    """A connector configuration is invalid; the message lists each bad field and why."""

    code: ClassVar[ErrorCode] = "invalid_config"


class DuplicateConnectorError(ConnectorConfigError):
    """Two different connector classes claim the same name."""

    code: ClassVar[ErrorCode] = "duplicate_connector"
