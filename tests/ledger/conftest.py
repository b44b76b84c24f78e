"""The ``ledger`` fixture: every shared test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.ledger import Ledger, LedgerPolicy


def open_ledger(url: str, policy: LedgerPolicy | None = None) -> Ledger:
    Ledger.migrate(url)
    return Ledger(url, policy=policy)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite3")
    return as_url(str(request.getfixturevalue("postgres_url")))


def as_url(conninfo: str) -> str:
    """The ``postgres_url`` fixture gives a libpq conninfo string; the ledger takes a URL."""
    from psycopg.conninfo import conninfo_to_dict

    if conninfo.startswith("postgresql://"):
        return conninfo
    params = conninfo_to_dict(conninfo)
    auth = str(params.get("user", "postgres"))
    if params.get("password"):
        auth += f":{params['password']}"
    host = params.get("host", "127.0.0.1")
    port = params.get("port", 5432)
    return f"postgresql://{auth}@{host}:{port}/{params['dbname']}"


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with open_ledger(ledger_url) as opened:
        yield opened
