"""The outbox relay's election: one relay per ledger, handed over when its process dies."""

from __future__ import annotations

import psycopg

from hub.outbound import RELAY_LOCK_KEY, RelayLeadership


def test_one_relay_per_postgres_ledger_and_handover_when_the_leader_dies(
    postgres_url: str,
) -> None:
    first, second = RelayLeadership(postgres_url), RelayLeadership(postgres_url)
    try:
        assert first.acquire()
        assert not second.acquire()  # another process relays
        assert first.still_held()
        # The leader's process dies: the server ends its session and the lock goes with it.
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = %s::bigint & x'ffffffff'::bigint "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (RELAY_LOCK_KEY,),
            )
        assert not first.still_held()
        assert second.acquire()
        assert not first.acquire()  # the old leader comes back as a follower
    finally:
        first.release()
        second.release()


def test_sqlite_ledger_relays_without_election(tmp_path: object) -> None:
    leadership = RelayLeadership(f"sqlite:///{tmp_path}/ledger.sqlite3")
    assert leadership.acquire()
    assert leadership.still_held()
