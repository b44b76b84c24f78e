"""The simulation is the outside world: it imports nothing of the hub's packages."""

from __future__ import annotations

from pathlib import Path

from tests.test_architecture import ROOT, _imported_roots

HUB_PACKAGES = {"canonical", "connectors", "router", "hub"}


def test_the_simulation_imports_none_of_the_hub() -> None:
    files = sorted((ROOT / "simulation").rglob("*.py"))
    assert files
    offenders = {
        str(Path(path).relative_to(ROOT)): sorted(_imported_roots(path) & HUB_PACKAGES)
        for path in files
        if _imported_roots(path) & HUB_PACKAGES
    }
    assert not offenders
