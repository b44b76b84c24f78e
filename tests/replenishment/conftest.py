"""Replenishment tests run on SQLite and on a real PostgreSQL, like the ledger's (same fixtures)."""

from __future__ import annotations

from tests.ledger.conftest import ledger, ledger_url  # noqa: F401 - fixtures shared with the ledger tests
