"""The thin layer where SQLite and PostgreSQL differ: connecting, placeholders, transactions and
row locks. Everything above it is one SQL text and one logic layer.

The logic writes SQL with ``?`` placeholders and never a literal ``?`` or ``%``; PostgreSQL's
dialect turns them into ``%s``. Both connections run in autocommit mode and the ledger issues
``BEGIN``/``SAVEPOINT``/``COMMIT`` itself, so the transaction boundaries are visible in one place.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from hub.ledger.errors import LedgerUnavailableError

__all__ = ["Dialect", "PostgresDialect", "SqliteDialect"]

Row = tuple[Any, ...]


class Dialect(Protocol):
    name: str
    #: appended to a SELECT of position rows to lock them until commit (empty on SQLite)
    for_update: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def statements(self, *sql: str) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    def begin_write(self, *, pipeline: bool = False) -> None: ...
    def sync(self) -> None: ...
    @property
    def queued(self) -> bool: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def is_retryable(self, error: BaseException) -> bool: ...
    def is_integrity_error(self, error: BaseException) -> bool: ...
    def close(self) -> None: ...


class SqliteDialect:
    """SQLite in WAL mode; a write batch takes the write lock up front with ``BEGIN IMMEDIATE``,
    so two processes never both read-then-write (SQLite serialises writers; readers go on)."""

    name = "sqlite"
    for_update = ""

    def __init__(self, path: str) -> None:
        try:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                str(Path(path).expanduser()),
                isolation_level=None,
                check_same_thread=False,
                timeout=60.0,
            )
        except (OSError, sqlite3.Error) as exc:
            raise LedgerUnavailableError(
                f"cannot open the SQLite ledger at {path}: {exc}"
            ) from None
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=60000")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def statements(self, *sql: str) -> None:
        for statement in sql:
            self.conn.execute(statement)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        self.conn.executescript(script)

    def begin_write(self, *, pipeline: bool = False) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def sync(self) -> None:
        """Nothing is queued on SQLite: every statement has run when its call returns."""

    @property
    def queued(self) -> bool:
        """Whether a statement's error may surface at a later statement: never on SQLite."""
        return False

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def is_retryable(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)

    def is_integrity_error(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError)

    def close(self) -> None:
        self.conn.close()


class PostgresDialect:
    """PostgreSQL at READ COMMITTED; the ledger locks the position rows it changes with
    ``SELECT ... FOR UPDATE`` in a stable order (location id) and retries deadlocks and
    serialization failures a bounded number of times."""

    name = "postgres"
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self._url = url
        self._in_transaction = False
        #: the pipeline-mode context of the current transaction, if it runs in pipeline mode
        self._pipeline: Any = None
        self._pipeline_context: Any = None
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise LedgerUnavailableError(
                f"cannot connect to the PostgreSQL ledger at {_redact(url)}: {exc}"
            ) from None

    def ensure_connected(self) -> None:
        """Reopen the connection if the server or the network dropped it.

        Without this a worker never recovers from a database restart or a network cut: every
        later call fails on the dead connection. Only ever between transactions (a transaction
        cannot continue on a new connection). A failed reconnect raises psycopg's
        ``OperationalError``, which the router treats as transient (retry, then redelivery).
        """
        if self._in_transaction or not (self.conn.closed or self.conn.broken):
            return
        with contextlib.suppress(Exception):
            self.conn.close()
        self.conn = self._psycopg.connect(self._url, autocommit=True, connect_timeout=5)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; its row count (-1 in pipeline mode, where the statement is only
        queued: it is sent with the next statement whose result is needed)."""
        self.ensure_connected()
        cursor = self.conn.execute(self._sql(sql), tuple(params))
        return -1 if self._pipeline is not None else cursor.rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.ensure_connected()
        cursor = self.conn.execute(self._sql(sql), tuple(params))
        return list(cursor.fetchall())

    def statements(self, *sql: str) -> None:
        """Several parameterless statements in one round trip (the simple query protocol; in
        pipeline mode, queued one by one, which is also one round trip)."""
        if self._pipeline is not None:
            for statement in sql:
                self.conn.execute(statement.encode())
            return
        self.conn.execute("; ".join(sql).encode())

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of one statement, pipelined by psycopg (one round trip, not one per row)."""
        with self.conn.cursor() as cursor:
            cursor.executemany(self._sql(sql), rows)

    def executescript(self, script: str) -> None:
        self.ensure_connected()
        self.conn.execute(script.encode())

    def begin_write(self, *, pipeline: bool = False) -> None:
        """``BEGIN``; with ``pipeline``, the transaction runs in psycopg's pipeline mode: a
        statement whose result nobody reads is queued and travels with the next one that is read,
        so a batch costs a round trip per *read*, not per statement. An error of a queued
        statement surfaces at the next read (or :meth:`sync`), so the caller must not attribute it
        to the statement being read: the ledger runs its optimistic pass this way and redoes the
        batch, message by message, on any message error."""
        self.ensure_connected()
        if pipeline:
            self._pipeline_context = self.conn.pipeline()
            self._pipeline = self._pipeline_context.__enter__()
        self.conn.execute("BEGIN")
        self._in_transaction = True

    @property
    def queued(self) -> bool:
        """Whether this transaction runs in pipeline mode (a statement's error may surface at a
        later statement)."""
        return self._pipeline is not None

    def sync(self) -> None:
        """Send what is queued and raise the first error among it (pipeline mode)."""
        if self._pipeline is not None:
            self._pipeline.sync()

    def _end_pipeline(self, error: BaseException | None = None) -> None:
        pipeline, self._pipeline_context = self._pipeline_context, None
        self._pipeline = None
        if pipeline is None:
            return
        if error is None:
            pipeline.__exit__(None, None, None)
            return
        with contextlib.suppress(Exception):
            pipeline.__exit__(type(error), error, None)

    def commit(self) -> None:
        self._in_transaction = False
        self.conn.execute("COMMIT")
        self._end_pipeline()

    def rollback(self) -> None:
        self._in_transaction = False
        if self._pipeline is not None:
            self._end_pipeline(LedgerUnavailableError("transaction rolled back"))
        if self.conn.closed or self.conn.broken:  # the server already ended the transaction
            return
        if self.conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")

    def is_retryable(self, error: BaseException) -> bool:
        errors = self._psycopg.errors
        return isinstance(error, errors.SerializationFailure | errors.DeadlockDetected)

    def is_integrity_error(self, error: BaseException) -> bool:
        return isinstance(error, self._psycopg.IntegrityError)

    def close(self) -> None:
        self.conn.close()


def _redact(url: str) -> str:
    """``url`` without its password, for error messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url
