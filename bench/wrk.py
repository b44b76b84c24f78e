"""wrk (Debian's ``wrk`` package) as the load generator: it costs the cores far less than a Python
client, so the figures measure the server rather than the client.

wrk cannot sign requests, so every request is prepared here (body, headers and signature) and
written into the Lua script as a ready HTTP/1.1 request; wrk cycles over them on keep-alive
connections, and the script's ``done`` prints the totals and latency percentiles as one JSON line.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["available", "run_wrk"]

_SCRIPT_TAIL = r"""
local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _script(host: str, path: str, requests: Sequence[tuple[bytes, dict[str, str]]]) -> str:
    """The Lua script: every request ready on the wire (wrk cannot sign), then the cycle and the
    JSON summary."""
    entries = []
    for body, headers in requests:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        raw = "\r\n".join(lines) + body.decode()
        if "]==]" in raw:
            raise ValueError("a request contains the Lua long-string terminator")
        entries.append(f"[==[{raw}]==]")
    return "requests = {\n" + ",\n".join(entries) + "\n}\n" + _SCRIPT_TAIL


def run_wrk(
    base: str,
    path: str,
    requests: Sequence[tuple[bytes, dict[str, str]]],
    *,
    seconds: int,
    concurrency: int,
    threads: int = 1,
) -> dict[str, Any]:
    """One wrk run of ``seconds`` (whole seconds: wrk's unit) with ``concurrency`` connections;
    its totals, latency percentiles and the CPU seconds wrk used."""
    host = base.split("://", 1)[1].rstrip("/")
    with tempfile.TemporaryDirectory(prefix="hub-bench-wrk-") as folder:
        script = Path(folder) / "requests.lua"
        script.write_text(_script(host, path, requests), encoding="utf-8")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(  # noqa: S603 - wrk from PATH, our arguments
            ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, seconds)}s",  # noqa: S607
             "-s", str(script), base],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith('{"requests"'))
    figures: dict[str, Any] = json.loads(line)
    figures["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return figures
