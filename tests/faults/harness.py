"""Fault-injection tools for tests: a private Redis that can be restarted, a pausable TCP proxy.

The shared Redis on this machine keeps nothing on disk, so restarting it would lose every stream
by design; the restart tests start their own ``redis-server`` with an append-only file fsynced on
every write (the configuration a production hub must use) and restart that. The PostgreSQL outage
tests put a TCP proxy in front of the real server and cut it, so other tests keep their database.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

__all__ = ["PausableProxy", "PrivateRedis", "ProxyThread", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own, durable (AOF, fsync always), on a free port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self, downtime: float = 0.5) -> None:
        self.stop()
        time.sleep(downtime)
        self.start()


class PausableProxy:
    """A TCP proxy that can refuse and drop connections for a while (a database "outage")."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._down = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._cut()

    def _cut(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def outage(self) -> None:
        """Drop every open connection and refuse new ones until :meth:`restore`."""
        self._down.set()
        self._cut()

    def restore(self) -> None:
        self._down.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down.is_set():
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        for pump in pumps:
            pump.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self._down.is_set():
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)


class ProxyThread:
    """A :class:`PausableProxy` on its own event loop in a thread.

    The hub makes some database calls on its event loop's thread (the catalogue reloads its cache
    synchronously), so a proxy served by the same loop would wait on the call that waits on it.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.proxy = PausableProxy(target_host, target_port)
        self.port = self.proxy.port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def outage(self) -> None:
        self._loop.call_soon_threadsafe(self.proxy.outage)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(self.proxy.restore)

    @classmethod
    def before_postgres(cls, postgres_url: str) -> tuple[ProxyThread, str]:
        """A started proxy in front of the local PostgreSQL and ``postgres_url`` rewritten to go
        through it; the caller stops it (``__exit__``) when its scenario ends."""
        proxy = cls("127.0.0.1", 5432).__enter__()
        through_proxy = postgres_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
        if through_proxy == postgres_url:
            proxy.__exit__()
            raise AssertionError(f"{postgres_url} does not name the local PostgreSQL on 5432")
        return proxy, through_proxy
