"""What the simulated vendors were asked, and how badly they behave while answering.

The journal is the simulation's record of every call a hub made (when, to which vendor, which
operation, the request body, the answer's status): the demo reads its latency figures from it and
tests read what the hub actually sent. The fault plan decides, from its own seed, which calls are
answered with a 429 or answered slowly, so a run exercises the hub's retry and rate-limit paths.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Call", "FaultPlan", "Journal"]


@dataclass(frozen=True, slots=True)
class Call:
    """One request a simulated vendor received."""

    at: float  # time.time() when it arrived
    vendor: str
    operation: str
    method: str
    path: str
    status: int
    body: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "vendor": self.vendor,
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "body": self.body,
        }


class Journal:
    """Append-only, shared by the server's thread and its readers."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self, vendor: str | None = None, operation: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self._calls
                if (vendor is None or c.vendor == vendor)
                and (operation is None or c.operation == operation)
            ]


@dataclass
class FaultPlan:
    """Seeded misbehaviour: ``rate_limited`` and ``slow`` are shares of the calls that get it.

    ``retry_after`` is what a 429 asks the caller to wait (compressed from the vendors' seconds so
    that a demo stays short); ``tax_failures`` is the share of tax calls answered with a 500.
    """

    seed: int = 0
    rate_limited: float = 0.04
    slow: float = 0.05
    slow_seconds: float = 0.2
    retry_after: float = 0.5
    tax_failures: float = 0.1
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def none(cls) -> FaultPlan:
        """A well-behaved world (for tests that check shapes, not resilience)."""
        return cls(rate_limited=0.0, slow=0.0, tax_failures=0.0)

    def draw(self) -> tuple[bool, float, bool]:
        """(answer 429?, seconds to stall, fail a tax call?) for the next call."""
        with self._lock:
            limited = self._rng.random() < self.rate_limited
            delay = self.slow_seconds if self._rng.random() < self.slow else 0.0
            tax = self._rng.random() < self.tax_failures
        return limited, delay, tax
