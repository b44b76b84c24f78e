"""Versioned schema migrations: ``migrations/<dialect>/NNNN_name.sql``, applied in order by
``hub ledger migrate`` and recorded in ``schema_migrations``. Each file runs in its own transaction
with its bookkeeping row, so a failed migration leaves the schema at the previous version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from hub.ledger.dialect import PostgresDialect, SqliteDialect

__all__ = ["Migration", "applied_versions", "available_migrations", "migrate", "pending"]

_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(dialect: str) -> list[Migration]:
    """The migrations shipped with this version of the hub, oldest first."""
    folder = resources.files("hub.ledger") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def applied_versions(db: SqliteDialect | PostgresDialect) -> set[int]:
    """Versions recorded in ``schema_migrations`` (empty for a new database)."""
    if db.name == "sqlite":
        exists = db.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
    else:
        exists = db.query("SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations'")
    if not exists:
        return set()
    return {int(row[0]) for row in db.query("SELECT version FROM schema_migrations")}


def pending(db: SqliteDialect | PostgresDialect) -> list[Migration]:
    done = applied_versions(db)
    return [m for m in available_migrations(db.name) if m.version not in done]


def migrate(db: SqliteDialect | PostgresDialect) -> list[Migration]:
    """Apply every pending migration; returns those applied (none when up to date)."""
    db.execute(_BOOKKEEPING)
    applied = []
    for migration in pending(db):
        db.begin_write()
        try:
            if db.name == "sqlite":
                for statement in _statements(migration.sql):
                    db.execute(statement)
            else:
                db.executescript(migration.sql)
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
            db.commit()
        except BaseException:
            db.rollback()
            raise
        applied.append(migration)
    return applied


def _statements(script: str) -> list[str]:
    """Split a migration into statements (our SQL files hold no semicolons inside literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
