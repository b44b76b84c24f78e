"""The ERP ledger: the inventory and order-to-cash system of record (SQLite or PostgreSQL).

Use :class:`Ledger` (``Ledger(url).apply(envelopes)``); see ``docs/ledger.md``.
"""

from hub.ledger.errors import (
    InsufficientStockError,
    InvalidMessageError,
    LedgerError,
    LedgerNotMigratedError,
    LedgerUnavailableError,
    LedgerUrlError,
    MessageRejectedError,
    RefundRefusedError,
    UnknownLocationError,
    UnknownOrderError,
    UnknownRequestError,
    UnknownSkuError,
    UnsupportedEventError,
)
from hub.ledger.policy import (
    ChannelRule,
    ChannelStockPolicy,
    LedgerPolicy,
    ReservationPolicy,
    ReturnsPolicy,
    SourcingPolicy,
)
from hub.ledger.store import ApplyResult, Ledger, OutboxEvent, Outcome
from hub.ledger.url import default_ledger_path, parse_ledger_url, resolve_ledger_url

__all__ = [
    "ApplyResult",
    "ChannelRule",
    "ChannelStockPolicy",
    "InsufficientStockError",
    "InvalidMessageError",
    "Ledger",
    "LedgerError",
    "LedgerNotMigratedError",
    "LedgerPolicy",
    "LedgerUnavailableError",
    "LedgerUrlError",
    "MessageRejectedError",
    "OutboxEvent",
    "Outcome",
    "RefundRefusedError",
    "ReservationPolicy",
    "ReturnsPolicy",
    "SourcingPolicy",
    "UnknownLocationError",
    "UnknownOrderError",
    "UnknownRequestError",
    "UnknownSkuError",
    "UnsupportedEventError",
    "default_ledger_path",
    "parse_ledger_url",
    "resolve_ledger_url",
]
