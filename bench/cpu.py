"""CPU time spent by this process and by the local PostgreSQL and Redis servers over a stretch.

Wall-clock rates alone hide where a machine's cores went: a worker can look slow because it waits
or because it burns. Counting the CPU seconds of every party per message gives the ceiling a
design can reach on this machine (``cores / CPU per message``) however well it overlaps its work,
which is how ``bench.throughput`` tells a target that needs a faster design from one that needs
more cores.

Servers are found by process name in ``/proc`` (``postgres``, ``redis-server``), so the figures
are only meaningful on a machine where nothing else uses them during the run, as here. A server
process that exits during the stretch loses its time (PostgreSQL backends of the benchmark's own
connections live throughout); one that starts counts from zero.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuMeter", "CpuUse"]

SERVERS = {"postgres": "postgres", "redis": "redis-server"}
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _server_ticks(command: str) -> dict[int, int]:
    """user + system clock ticks of every live process whose name is ``command``."""
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != command:
                continue
            # the fields after the parenthesised name: state is 3rd, utime 14th, stime 15th
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    return ticks


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds per party over a measured stretch."""

    python: float
    postgres: float
    redis: float

    @property
    def total(self) -> float:
        return self.python + self.postgres + self.redis

    def per_message_us(self, messages: int) -> dict[str, float]:
        """Microseconds of CPU per message, by party and in total."""
        scale = 1e6 / messages
        return {
            "python": round(self.python * scale, 1),
            "postgres": round(self.postgres * scale, 1),
            "redis": round(self.redis * scale, 1),
            "total": round(self.total * scale, 1),
        }

    def ceiling(self, messages: int, cores: int) -> float:
        """Messages per second if every core did nothing but this work, perfectly overlapped:
        no design of the same work per message can go faster on ``cores`` cores."""
        return messages * cores / self.total if self.total else float("inf")


class CpuMeter:
    """``start()`` then ``stop()`` around the measured stretch; ``stop`` returns a :class:`CpuUse`.

    ``python`` is this process (all its threads); the servers' figures are the per-process growth
    of their user and system time. The last stretch's figures stay in :attr:`use`, so a function
    that measures inside itself can be handed a meter and the caller read it afterwards."""

    use: CpuUse | None = None

    def start(self) -> None:
        self._python = time.process_time()
        self._servers = {name: _server_ticks(command) for name, command in SERVERS.items()}

    def stop(self) -> CpuUse:
        python = time.process_time() - self._python
        grown: dict[str, float] = {}
        for name, command in SERVERS.items():
            before = self._servers[name]
            after = _server_ticks(command)
            ticks = sum(now - before.get(pid, 0) for pid, now in after.items())
            grown[name] = max(0, ticks) / _TICKS
        self.use = CpuUse(python=python, postgres=grown["postgres"], redis=grown["redis"])
        return self.use
