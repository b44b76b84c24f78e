"""Shared test fixtures: real PostgreSQL and Redis servers.

Tests that need a server use these fixtures. Outside CI a missing server skips the test with the
reason; in CI (``CI=true``) it fails, so a green CI run always means the tests really ran against the
servers.

Settings: ``HUB_TEST_POSTGRES_URL`` (an admin URL; default ``postgresql://postgres@127.0.0.1:5432/postgres``)
and ``HUB_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def server_missing(what: str, error: BaseException) -> None:
    """Skip locally, fail in CI: a missing server must never pass silently in CI."""
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


def _with_database(admin_url: str, database: str) -> str:
    """The admin URL pointed at another database, still as a ``postgresql://`` URL."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin_url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"HUB_TEST_POSTGRES_URL must be a postgresql:// URL, not {admin_url!r}")
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        server_missing("PostgreSQL", exc)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(postgres_admin_url, name)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis server's URL. Tests write under their own ``hub-test:<unique>`` prefixes and
    remove them; afterwards, ``hub-test:*`` keys nobody touched for ten minutes (left by a crashed
    run) are swept. Only idle ones: a sweep of every ``hub-test:*`` key would delete the streams of
    another test run sharing this server at the same time."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        server_missing("Redis", exc)
    yield REDIS_URL
    for key in client.scan_iter("hub-test:*"):
        idle = client.object("idletime", key)
        if isinstance(idle, int) and idle > 600:
            client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def _span_exporter() -> object:
    """One SDK tracer provider for the whole test session (OpenTelemetry allows one per process)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def spans(_span_exporter: object) -> Iterator[object]:
    """The spans finished during one test (an ``InMemorySpanExporter``, cleared before and after)."""
    _span_exporter.clear()  # type: ignore[attr-defined]
    yield _span_exporter
    _span_exporter.clear()  # type: ignore[attr-defined]
