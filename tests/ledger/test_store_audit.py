"""The ledger writes the router's audit records with the effects they describe (SQLite and
PostgreSQL): an effect is never committed without its ``deliver`` record, whatever happens to the
router after the commit, and the records join the tenant's hash chain like any other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hub.ledger import Ledger
from hub.ledger.dialect import PostgresDialect, SqliteDialect
from hub.ledger.url import parse_ledger_url
from hub.operations import OperationsStore
from router.audit import AuditRecord
from router.errors import TransientError
from router.idempotency import LocalFastPath
from router.pipeline import Disposition, Router
from router.ports import RawMessage
from tests.ledger.factory import TENANT, receipt, setup_master_data
from tests.router.test_governance import DictCatalog


class EnvelopeTranslator:
    """The raw message's id names a prepared envelope."""

    def __init__(self, envelopes: dict[str, object]) -> None:
        self.envelopes = envelopes

    def translate(self, raw: RawMessage) -> list[object]:
        return [self.envelopes[raw.id]]


class DownAuditStore(OperationsStore):
    """The operations store with its audit writes failing while ``down`` (what a worker killed
    right after the ledger's commit leaves: the router's own write never happens)."""

    down = True

    def append(self, records: Sequence[AuditRecord]) -> None:
        if self.down:
            raise TransientError("audit store unreachable")
        super().append(records)


def _raw(raw_id: str) -> RawMessage:
    return RawMessage(
        id=raw_id,
        tenant=TENANT,
        instance="test_1",
        event="test",
        body=b"{}",
        received_at=datetime.now(UTC),
    )


async def test_effects_commit_with_their_audit_records(ledger: Ledger) -> None:
    setup_master_data(ledger)
    target = parse_ledger_url(ledger.url)
    db = (
        SqliteDialect(target.location)
        if target.kind == "sqlite"
        else PostgresDialect(target.location)
    )
    ops = DownAuditStore(db)
    envelopes = {
        "r1": receipt("m1", "SKU-A", "wh_a", 5),
        "r2": receipt("m3", "SKU-B", "wh_b", 2),
        "bad": receipt("m2", "NOPE", "wh_a", 1),  # refused: unknown SKU, dead-lettered
    }
    router = Router(
        translator=EnvelopeTranslator(envelopes),  # type: ignore[arg-type]
        ledger=ledger,
        catalog=DictCatalog(skus={"SKU-A", "SKU-B", "NOPE"}, locations={"wh_a", "wh_b"}),
        fast_path=LocalFastPath(),
        dead_letters=ops,
        holds=ops,
        audit=ops,
    )
    try:
        results = await router.process([_raw("r1"), _raw("r2"), _raw("bad")])
        assert [r.dispositions for r in results] == [
            [Disposition.APPLIED],
            [Disposition.APPLIED],
            [Disposition.DEAD_LETTERED],
        ]
        # the router could not write a single record; the effects' records committed with them
        for raw_id in ("r1", "r2"):
            trail = ops.audit_trail(TENANT, message_id=raw_id)
            assert [(r.stage, r.outcome) for r in trail] == [
                ("translate", "ok"),
                ("govern", "pass"),
                ("deliver", "applied"),
            ]
        assert ops.audit_trail(TENANT, message_id="bad") == []  # kept for the next write
        processed = int(ledger.db.query("SELECT COUNT(*) FROM processed_messages")[0][0])
        delivered = int(
            ledger.db.query(
                "SELECT COUNT(*) FROM audit_log WHERE stage = 'deliver' AND outcome = 'applied'"
            )[0][0]
        )
        assert processed == delivered == 2

        ops.down = False
        await router.process([_raw("r1")])  # a redelivery: a duplicate, and the backlog written
        assert [(r.stage, r.outcome) for r in ops.audit_trail(TENANT, message_id="bad")][-1] == (
            "deliver",
            "dead_lettered",
        )
        assert ops.verify(TENANT) == []  # every record, whoever wrote it, in one intact chain
        sealed = ledger.db.query("SELECT COUNT(*) FROM audit_log WHERE sequence IS NULL")
        assert int(sealed[0][0]) == 0
    finally:
        db.close()
