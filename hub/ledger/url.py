"""Where the ledger lives: ``--ledger URL`` beats ``HUB_LEDGER_URL`` beats the embedded default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hub.ledger.errors import LedgerUrlError

if TYPE_CHECKING:
    from hub.ledger.dialect import PostgresDialect, SqliteDialect

__all__ = [
    "LedgerTarget",
    "default_ledger_path",
    "open_database",
    "parse_ledger_url",
    "resolve_ledger_url",
]

ENV_VAR = "HUB_LEDGER_URL"


def default_ledger_path() -> Path:
    """``$HUB_HOME`` or ``$XDG_DATA_HOME/commerce-hub`` or ``~/.local/share/commerce-hub``, plus
    ``ledger.sqlite3``: the embedded default, per user, outside the working tree."""
    home = os.environ.get("HUB_HOME")
    if home:
        return Path(home) / "ledger.sqlite3"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "commerce-hub" / "ledger.sqlite3"


def resolve_ledger_url(explicit: str | None) -> str:
    """The ledger URL to use: ``explicit`` (``--ledger``), else ``$HUB_LEDGER_URL``, else the
    embedded default file (as a ``sqlite:///`` URL)."""
    if explicit:
        return explicit
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return from_env
    return f"sqlite:///{default_ledger_path()}"


@dataclass(frozen=True, slots=True)
class LedgerTarget:
    """A parsed ledger URL: which store, and the file path or the PostgreSQL URL."""

    kind: Literal["sqlite", "postgres"]
    location: str
    is_default: bool = False


def parse_ledger_url(url: str) -> LedgerTarget:
    """Tell a SQLite file (a path or ``sqlite:///path``) from a ``postgresql://`` URL."""
    is_default = url == f"sqlite:///{default_ledger_path()}"
    if url.startswith(("postgresql://", "postgres://")):
        return LedgerTarget("postgres", url)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise LedgerUrlError(f"{url!r}: a sqlite:/// URL needs a file path after the slashes")
        # sqlite:////abs/path and sqlite:///rel/path, as SQLAlchemy spells them
        return LedgerTarget("sqlite", path, is_default)
    if "://" in url:
        raise LedgerUrlError(
            f"{url!r} is not a ledger URL: use a SQLite file path, sqlite:///PATH or a "
            "postgresql:// URL"
        )
    return LedgerTarget("sqlite", url, is_default)


def open_database(url: str) -> SqliteDialect | PostgresDialect:
    """A connection of its own to the ledger's database at ``url`` (reports, the operations
    store, poll cursors, deployments: each keeps one beside the ledger's writer)."""
    from hub.ledger.dialect import PostgresDialect, SqliteDialect

    target = parse_ledger_url(url)
    if target.kind == "sqlite":
        return SqliteDialect(target.location)
    return PostgresDialect(target.location)
