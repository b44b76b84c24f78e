"""The ledger's typed errors: each has a stable ``code`` a program can branch on and a message a
person can act on. A refused message becomes a ``rejected`` result carrying one of these; the rest
of its batch still commits.
"""

from __future__ import annotations

from hub.errors import HubError

__all__ = [
    "InsufficientStockError",
    "InvalidMessageError",
    "LedgerError",
    "LedgerNotMigratedError",
    "LedgerUnavailableError",
    "LedgerUrlError",
    "MessageRejectedError",
    "OrderNotYetKnownError",
    "RefundRefusedError",
    "UnknownLocationError",
    "UnknownOrderError",
    "UnknownRequestError",
    "UnknownSkuError",
    "UnsupportedEventError",
]


class LedgerError(HubError):
    """Root of the ledger's errors."""

    code: str = "ledger_error"


class LedgerUrlError(LedgerError):
    """The ``--ledger`` URL (or ``HUB_LEDGER_URL``) is not a SQLite path or a PostgreSQL URL."""

    code = "ledger_url"


class LedgerUnavailableError(LedgerError):
    """The ledger's database cannot be reached or opened (a transient condition to retry)."""

    code = "ledger_unavailable"


class LedgerNotMigratedError(LedgerError):
    """The database's schema is behind this version of the hub: run ``hub ledger migrate``."""

    code = "ledger_not_migrated"


class UnknownRequestError(LedgerError):
    """No fulfilment request with that id for the tenant (``Ledger.note_node_reference``)."""

    code = "unknown_request"


class MessageRejectedError(LedgerError):
    """One message the ledger refuses; names the message and why."""

    code = "rejected"

    def __init__(self, reason: str, *, message_id: str = "") -> None:
        self.reason = reason
        self.message_id = message_id
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"message {self.message_id}: " if self.message_id else ""
        return f"{where}{self.reason} [{self.code}]"

    def for_message(self, message_id: str) -> MessageRejectedError:
        """The same error, now naming the message it refused."""
        self.message_id = message_id
        self.args = (self._text(),)
        return self


class UnknownSkuError(MessageRejectedError):
    """A SKU (or a channel's external id) that master data does not know."""

    code = "unknown_sku"


class UnknownLocationError(MessageRejectedError):
    """A stock location that master data does not know."""

    code = "unknown_location"


class UnknownOrderError(MessageRejectedError):
    """A shipment, payment or return for an order the ledger has not seen."""

    code = "unknown_order"


class OrderNotYetKnownError(UnknownOrderError):
    """A message names an order the ledger has not seen yet: it is parked, not refused.

    Raised by ``require_order`` before the message changed anything; the ledger keeps the message
    in ``parked_messages`` and applies it when the order arrives (see ``hub.ledger.parking``).
    """

    def __init__(self, message: str, *, tenant: str, order_key: str) -> None:
        super().__init__(message)
        self.tenant = tenant
        self.order_key = order_key


class InsufficientStockError(MessageRejectedError):
    """Applying the message would drive a position negative (or oversell a non-backorder SKU)."""

    code = "insufficient_stock"


class RefundRefusedError(MessageRejectedError):
    """A refund the returns policy or the captured amount does not allow."""

    code = "refund_refused"


class InvalidMessageError(MessageRejectedError):
    """A message that is well-formed but makes no sense to the ledger (e.g. a shipped quantity
    larger than the order line)."""

    code = "invalid_message"


class UnsupportedEventError(MessageRejectedError):
    """An event type or movement kind the ledger does not accept from outside."""

    code = "unsupported_event"
