"""The servers a benchmark uses, made and cleaned up by the benchmark itself.

Each run creates its own PostgreSQL database and its own Redis key prefix and removes exactly
those afterwards, so benchmarks can run beside the test suite on a shared server. Hub processes
(``hub ingress``, workers) are started as real child processes, as an operator starts them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis
from psycopg import sql

__all__ = [
    "POSTGRES_ADMIN_URL",
    "REDIS_URL",
    "ChildProcesses",
    "free_port",
    "redis_prefix",
    "temporary_database",
    "wait_http",
]

POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def temporary_database(label: str, admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """A fresh database named after ``label`` and this process, dropped on exit; yields its URL."""
    name = f"bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(drop)


@contextlib.contextmanager
def redis_prefix(label: str, url: str = REDIS_URL) -> Iterator[str]:
    """A key prefix of this run's own (``bench-LABEL-xxxxxxxx``); its keys are deleted on exit."""
    prefix = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        finally:
            client.close()


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers (a server process is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class ChildProcesses:
    """Child processes of this benchmark, stopped with SIGTERM (then SIGKILL) on exit."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = {**os.environ, **(environ or {}), "PYTHONPATH": str(ROOT)}
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, argv: Sequence[str], **options: object) -> subprocess.Popen[bytes]:
        """``python ARGV...`` with this repository first on the path (the code under test)."""
        process: subprocess.Popen[bytes] = subprocess.Popen(  # noqa: S603 - our interpreter
            [sys.executable, *argv],
            env=self.environ,
            **options,  # type: ignore[call-overload]
        )
        self.processes.append(process)
        return process

    def __enter__(self) -> ChildProcesses:
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
