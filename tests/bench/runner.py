"""Run a benchmark as a user does (``python -m bench.NAME ... --json``) and read its one object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.support import ROOT

__all__ = ["run_bench"]


def run_bench(
    name: str, *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The benchmark's JSON output; fails with its stderr if it exits non-zero. ``env`` adds to
    the environment (the servers' URLs)."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert isinstance(result, dict)
    return result
