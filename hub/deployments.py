"""Deployed configurations: kept, attributed, and switchable back.

``hub deploy FILE`` sends a deployment file to a running hub through the admin API. The hub
validates it, records it (the YAML text, its SHA-256, who deployed it and when) and switches to it
between two batches; ``hub deploy --rollback`` makes the previous version active again, recorded as
a deployment of its own, so the history always reads forward.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["DeploymentRecord", "DeploymentStore"]


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    digest: str
    deployed_by: str
    deployed_at: datetime
    note: str | None
    active: bool
    document: str


class DeploymentStore:
    """The ``deployments`` table (a ledger migration), over one of the ledger's dialects."""

    def __init__(self, db: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()

    @staticmethod
    def _row(row: tuple[Any, ...]) -> DeploymentRecord:
        return DeploymentRecord(
            id=int(row[0]),
            digest=row[1],
            deployed_by=row[2],
            deployed_at=datetime.fromisoformat(row[3]),
            note=row[4],
            active=bool(row[5]),
            document=row[6],
        )

    _COLUMNS = "id, digest, deployed_by, deployed_at, note, active, document"

    def record(
        self, document: str, *, deployed_by: str, note: str | None = None
    ) -> DeploymentRecord:
        """Store ``document`` as the active deployment (the previous one stays in the history)."""
        digest = hashlib.sha256(document.encode("utf-8")).hexdigest()
        with self._lock:
            self._db.begin_write()
            try:
                self._db.execute("UPDATE deployments SET active = FALSE WHERE active")
                self._db.execute(
                    "INSERT INTO deployments (document, digest, deployed_by, deployed_at, note, active) "
                    "VALUES (?, ?, ?, ?, ?, TRUE)",
                    (document, digest, deployed_by, self._clock().isoformat(), note),
                )
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
        active = self.active()
        assert active is not None
        return active

    def active(self) -> DeploymentRecord | None:
        rows = self._db.query(
            f"SELECT {self._COLUMNS} FROM deployments WHERE active ORDER BY id DESC LIMIT 1"  # noqa: S608 - constant columns
        )
        return self._row(rows[0]) if rows else None

    def history(self, limit: int = 50) -> list[DeploymentRecord]:
        rows = self._db.query(
            f"SELECT {self._COLUMNS} FROM deployments ORDER BY id DESC LIMIT ?",  # noqa: S608 - constant columns
            (limit,),
        )
        return [self._row(row) for row in rows]

    def previous(self) -> DeploymentRecord | None:
        """The version before the active one, with a different content (what a rollback restores)."""
        history = self.history(limit=200)
        if not history:
            return None
        current = history[0]
        return next((r for r in history[1:] if r.digest != current.digest), None)
