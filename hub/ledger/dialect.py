"""The thin layer where SQLite and PostgreSQL differ: connecting, placeholders, transactions and
row locks. Everything above it is one SQL text and one logic layer.

The logic writes SQL with ``?`` placeholders and never a literal ``?`` or ``%``; PostgreSQL's
dialect turns them into ``%s``. Both connections run in autocommit mode and the ledger issues
``BEGIN``/``SAVEPOINT``/``COMMIT`` itself, so the transaction boundaries are visible in one place.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from hub.ledger.errors import LedgerUnavailableError

__all__ = ["Dialect", "PostgresDialect", "SqliteDialect"]

Row = tuple[Any, ...]

#: A plain ``INSERT INTO table (columns) VALUES (?, ...)``: rows of it can be copied in bulk.
_PLAIN_INSERT = re.compile(
    r"\s*INSERT INTO (\w+) \(([\w\s,]+)\) VALUES \((\?(?:, \?)*)\)\s*", re.IGNORECASE
)
#: Fewer rows than this go through ``executemany`` (no round trip of their own in pipeline mode).
COPY_THRESHOLD = 16
_ADD_TO_POSITION = (
    "UPDATE positions SET on_hand = on_hand + ?, allocated = allocated + ?, "
    "in_transit = in_transit + ?, returns_pending = returns_pending + ?, damaged = damaged + ?, "
    "updated_at = ? WHERE tenant = ? AND sku = ? AND location = ?"
)


class _LazySavepoint:
    """A savepoint taken only if the message it guards sends a statement (see
    :meth:`PostgresDialect.arm_savepoint`); shared by both dialects."""

    _armed: str | None = None
    _taken: bool = False

    def arm_savepoint(self, name: str) -> None:
        """Take ``SAVEPOINT name`` just before the next statement, if there is one.

        A message that sends no statement (its writes are all deferred to the end of the batch)
        then costs no savepoint, and one that is refused before its first statement has nothing
        to roll back. On PostgreSQL savepoints are not released: a new one of the same name hides
        the older one, and ``ROLLBACK TO SAVEPOINT name`` goes back to the newest, which halves
        the statements per message; they all end with the transaction. SQLite releases the
        previous one first (see ``SqliteDialect._savepoint``).

        In pipeline mode PostgreSQL goes further: the message's writes are *held* rather than
        sent, and go out when it stands (``disarm_savepoint``) or are dropped when it is undone,
        so the savepoint is only taken if the message must read something after a write (the
        read sends the savepoint, then the held writes). Most messages read nothing of their own
        (the batch prefetched it), and a refusal then costs neither a savepoint nor a rollback.
        """
        self._armed, self._taken = name, False

    def disarm_savepoint(self, *, keep: bool = True) -> bool:
        """Stop guarding; whether the savepoint was taken (so there is something to roll back).
        ``keep=False`` when the guarded message is being undone (see ``PostgresDialect``, which
        may still hold its statements)."""
        taken, self._armed, self._taken = self._taken, None, False
        return taken

    def _take_savepoint(self) -> None:
        name, self._armed = self._armed, None
        if name is not None:
            self._taken = True
            self._savepoint(name)

    def _savepoint(self, name: str) -> None:
        raise NotImplementedError


class Dialect(Protocol):
    name: str
    #: appended to a SELECT of position rows to lock them until commit (empty on SQLite)
    for_update: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def statements(self, *sql: str) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def add_to_positions(self, rows: Sequence[Sequence[Any]]) -> None: ...
    def execute_counted(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], int]: ...
    def rows_source(
        self, rows: Sequence[Sequence[Any]], types: Sequence[str]
    ) -> tuple[str, list[Any]]: ...
    def arm_savepoint(self, name: str) -> None: ...
    def disarm_savepoint(self, *, keep: bool = True) -> bool: ...
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


class SqliteDialect(_LazySavepoint):
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
        if self._armed:
            self._take_savepoint()
        return self.conn.execute(sql, tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if self._armed:
            self._take_savepoint()
        return self.conn.execute(sql, tuple(params)).fetchall()

    def statements(self, *sql: str) -> None:
        if self._armed:
            self._take_savepoint()
        for statement in sql:
            self.conn.execute(statement)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self._armed:
            self._take_savepoint()
        self.conn.executemany(sql, rows)

    def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of one INSERT (``executemany``: each is an in-process call on SQLite)."""
        self.executemany(sql, rows)

    def execute_counted(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], int]:
        """Run one statement; a function giving its row count (here known at once)."""
        count = self.execute(sql, params)
        return lambda: count

    #: the lazy savepoint taken last in this transaction and not released yet
    _open_savepoint: str | None = None

    def _savepoint(self, name: str) -> None:
        # SQLite keeps a sub-journal per open savepoint, so a batch's worth of nested ones costs
        # more than releasing each (an in-process call here, not a statement on the wire)
        if self._open_savepoint == name:
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
        self.conn.execute(f"SAVEPOINT {name}")
        self._open_savepoint = name

    def add_to_positions(self, rows: Sequence[Sequence[Any]]) -> None:
        """Add deltas to position rows: ``(tenant, sku, location, d_on_hand, d_allocated,
        d_in_transit, d_returns_pending, d_damaged, updated_at)`` per row."""
        self.executemany(_ADD_TO_POSITION, [(*row[3:], *row[:3]) for row in rows])

    def rows_source(
        self, rows: Sequence[Sequence[Any]], types: Sequence[str]
    ) -> tuple[str, list[Any]]:
        """Rows as the source of an ``INSERT``: ``VALUES (?, ...), ...`` and their values."""
        marks = "(" + ", ".join("?" * len(types)) + ")"
        return "VALUES " + ", ".join([marks] * len(rows)), [v for row in rows for v in row]

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
        self._armed, self._taken, self._open_savepoint = None, False, None
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self._armed, self._taken, self._open_savepoint = None, False, None
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def is_retryable(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)

    def is_integrity_error(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError)

    def close(self) -> None:
        self.conn.close()


class PostgresDialect(_LazySavepoint):
    """PostgreSQL at READ COMMITTED; the ledger locks the position rows it changes with
    ``SELECT ... FOR UPDATE`` in a stable order (location id) and retries deadlocks and
    serialization failures a bounded number of times.

    Inside a write transaction (``begin_write`` to ``commit``/``rollback``, which its owner runs
    under a lock) statements go through two cursors kept for the transaction, one for writes and
    one for reads: psycopg's ``Connection.execute`` makes a new cursor per statement, which cost
    about as much Python time as sending the statement itself in pipeline mode.

    The connection never prepares statements on the server (psycopg's ``prepare_threshold``
    off). psycopg prepares a statement after its fifth run and forgets (and deallocates) all of
    them when it sees a rollback; in pipeline mode that happens while later statements of the
    same pipeline are being prepared, and one of them was lost: after a few thousand messages
    with refusals (each a rollback to its savepoint) a batch failed with "prepared statement
    _pg3_637 does not exist" (``tests/ledger/test_store_batching.py``). Unprepared statements
    cost PostgreSQL a parse and plan each (about 5 % more CPU per message in
    ``bench.throughput --ledger-only``), and the ledger also works behind PgBouncer's
    transaction pooling, which prepared statements do not survive."""

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
        #: the write transaction's cursors (writes, whose results nobody reads; reads)
        self._writer: Any = None
        self._reader: Any = None
        #: the cursors of ``execute_counted`` statements in this transaction
        self._counted: list[Any] = []
        #: the guarded message's writes, not sent yet (pipeline mode; see ``arm_savepoint``)
        #: (statement, parameters, its own cursor or None for the shared writer)
        self._held: list[tuple[Any, tuple[Any, ...] | None, Any]] = []
        try:
            self.conn = psycopg.connect(
                url, autocommit=True, connect_timeout=10, prepare_threshold=None
            )
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
        self.conn = self._psycopg.connect(
            self._url, autocommit=True, connect_timeout=5, prepare_threshold=None
        )

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; its row count (-1 in pipeline mode, where the statement is only
        queued: it is sent with the next statement whose result is needed)."""
        if self._armed:
            if self._pipeline is not None:  # held until the message is known to stand
                self._held.append((self._sql(sql), tuple(params), None))
                return -1
            self._take_savepoint()
        writer = self._writer
        if writer is None:
            self.ensure_connected()
            return int(self.conn.execute(self._sql(sql), tuple(params)).rowcount)
        writer.execute(self._sql(sql), tuple(params))
        return -1 if self._pipeline is not None else int(writer.rowcount)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if self._armed and (self._pipeline is None or self._held):
            # a read that follows held writes may depend on them: they go first, savepoint
            # ahead; a read before any write leaves the savepoint armed
            self._take_savepoint()
        reader = self._reader
        if reader is None:
            self.ensure_connected()
            return list(self.conn.execute(self._sql(sql), tuple(params)).fetchall())
        reader.execute(self._sql(sql), tuple(params))
        return list(reader.fetchall())

    def statements(self, *sql: str) -> None:
        """Several parameterless statements in one round trip (the simple query protocol; in
        pipeline mode, queued one by one, which is also one round trip)."""
        if self._armed:
            if self._pipeline is not None:
                self._held.extend((statement.encode(), None, None) for statement in sql)
                return
            self._take_savepoint()
        if self._pipeline is not None:
            for statement in sql:
                self._writer.execute(statement.encode())
            return
        self.conn.execute("; ".join(sql).encode())

    def _savepoint(self, name: str) -> None:
        self.statements(f"SAVEPOINT {name}")
        self._send_held()

    def disarm_savepoint(self, *, keep: bool = True) -> bool:
        """Stop guarding the message. In pipeline mode its writes were held (see
        :meth:`arm_savepoint`): they are sent now if the message stands (``keep``), dropped if it
        is undone, so a message whose statements were all writes needs no savepoint either way."""
        if keep:
            self._send_held()
        else:
            self._held.clear()
        return super().disarm_savepoint(keep=keep)

    def _send_held(self) -> None:
        held, self._held = self._held, []
        for statement, params, cursor in held:
            (cursor or self._writer).execute(statement, params)

    def rows_source(
        self, rows: Sequence[Sequence[Any]], types: Sequence[str]
    ) -> tuple[str, list[Any]]:
        """Rows as the source of an ``INSERT``: one array per column, unnested
        (``SELECT * FROM unnest(?::text[], ...)``). The statement's text is the same whatever
        the row count, so psycopg parses it once, where a ``VALUES`` list of a batch's rows
        (a thousand placeholders) was parsed again for every batch."""
        casts = ", ".join(f"?::{kind}[]" for kind in types)
        columns = [list(column) for column in zip(*rows, strict=True)]
        return f"SELECT * FROM unnest({casts})", columns  # noqa: S608 - type names of the caller

    def add_to_positions(self, rows: Sequence[Sequence[Any]]) -> None:
        """Add deltas to position rows: ``(tenant, sku, location, d_on_hand, d_allocated,
        d_in_transit, d_returns_pending, d_damaged, updated_at)`` per row, in one statement
        (arrays of the columns, unnested: one short statement text whatever the row count)."""
        if not rows:
            return
        self.execute(
            "UPDATE positions AS p SET on_hand = p.on_hand + v.d_on_hand, "
            "allocated = p.allocated + v.d_allocated, in_transit = p.in_transit + v.d_in_transit, "
            "returns_pending = p.returns_pending + v.d_returns_pending, "
            "damaged = p.damaged + v.d_damaged, updated_at = v.updated_at "
            "FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], "
            "?::bigint[], ?::bigint[], ?::text[]) AS v(tenant, sku, location, d_on_hand, "
            "d_allocated, d_in_transit, d_returns_pending, d_damaged, updated_at) "
            "WHERE p.tenant = v.tenant AND p.sku = v.sku AND p.location = v.location",
            [list(column) for column in zip(*rows, strict=True)],
        )

    def execute_counted(self, sql: str, params: Sequence[Any] = ()) -> Callable[[], int]:
        """Run one statement; a function giving its row count once it has run. In pipeline mode
        the statement is only queued (no round trip): read the count after :meth:`sync`."""
        if self._writer is None:
            count = self.execute(sql, params)
            return lambda: count
        cursor = self.conn.cursor()  # its own cursor: the shared writer's result is overwritten
        self._counted.append(cursor)
        if self._armed:
            if self._pipeline is not None:  # held like ``execute``; dropped, it counts -1
                self._held.append((self._sql(sql), tuple(params), cursor))
                return lambda: int(cursor.rowcount)
            self._take_savepoint()
        cursor.execute(self._sql(sql), tuple(params))
        return lambda: int(cursor.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of one statement, pipelined by psycopg (one round trip, not one per row)."""
        if self._armed:
            self._take_savepoint()
        with self.conn.cursor() as cursor:
            cursor.executemany(self._sql(sql), rows)

    def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of one INSERT: with ``COPY ... FROM STDIN`` when ``sql`` is a plain
        ``INSERT INTO t (columns) VALUES (?, ...)`` and there are enough rows to pay its round
        trip (psycopg formats the rows in C: about a third of ``executemany``'s time per row),
        otherwise with :meth:`executemany`. ``COPY`` cannot run in pipeline mode, so a
        transaction in pipeline mode leaves it here: what is queued is sent, and an error among
        it is raised now (as :meth:`sync` would)."""
        plain = _PLAIN_INSERT.fullmatch(sql)
        if plain is None or len(rows) < COPY_THRESHOLD or not self._in_transaction:
            self.executemany(sql, rows)
            return
        if self._armed:
            self._take_savepoint()
        if self._pipeline is not None:
            self._end_pipeline()
        table, columns = plain.group(1), plain.group(2)
        with self._writer.copy(f"COPY {table} ({columns}) FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(row)

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
        self._writer, self._reader = self.conn.cursor(), self.conn.cursor()
        self._writer.execute(b"BEGIN")
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

    def _end_transaction(self) -> None:
        self._in_transaction = False
        self._armed, self._taken = None, False
        self._held = []
        cursors = [self._writer, self._reader, *self._counted]
        self._writer, self._reader, self._counted = None, None, []
        for cursor in cursors:
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()

    def commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
            self._end_pipeline()
        finally:
            self._end_transaction()

    def rollback(self) -> None:
        try:
            if self._pipeline is not None:  # before the cursors close: results still arrive
                self._end_pipeline(LedgerUnavailableError("transaction rolled back"))
        finally:
            self._end_transaction()
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
