"""Errors raised by the canonical model.

One root, :class:`CanonicalError`, so callers can catch everything this package raises with one
clause. Validation of input data is pydantic's job and surfaces as ``pydantic.ValidationError``
(which names the field and the reason); the classes here cover rule violations that happen *after*
construction: arithmetic on money and moves through the order lifecycle.

    CanonicalError
    ├── MoneyError
    │   ├── CurrencyMismatchError     adding EUR to USD
    │   ├── PrecisionError            an amount finer than the currency's minor unit
    │   └── UnknownCurrencyError      a code that is not an ISO 4217 currency with minor units
    ├── IllegalTransitionError        an order lifecycle move the graph does not allow
    └── UnknownEventTypeError         an envelope event type with no payload model
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class CanonicalError(Exception):
    """Root of every error the canonical model raises."""


class MoneyError(CanonicalError, ValueError):
    """A money value or an operation on money is not allowed."""


class CurrencyMismatchError(MoneyError):
    """Two amounts in different currencies were combined."""

    def __init__(self, left: str, right: str, operation: str) -> None:
        self.left = left
        self.right = right
        self.operation = operation
        super().__init__(
            f"cannot {operation} {left} and {right}: amounts in different currencies never mix; "
            f"convert one of them explicitly first"
        )


class PrecisionError(MoneyError):
    """An amount has more decimal places than its currency's minor unit allows."""


class UnknownCurrencyError(MoneyError):
    """The currency is not an ISO 4217 currency with a defined minor unit."""


class IllegalTransitionError(CanonicalError):
    """An order lifecycle transition that the published graph does not allow."""

    def __init__(self, source: str, target: str, allowed: Iterable[str]) -> None:
        self.source = source
        self.target = target
        self.allowed = tuple(sorted(allowed))
        allowed_text = ", ".join(self.allowed) if self.allowed else "none (terminal state)"
        super().__init__(
            f"an order cannot move from {source!r} to {target!r}; from {source!r} it may move to: "
            f"{allowed_text}"
        )


class UnknownEventTypeError(CanonicalError, ValueError):
    """An envelope names an event type that has no canonical payload model."""
