"""Dependencies point inward: the package boundaries of docs/architecture.md, checked on the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("canonical", "connectors", "router", "hub", "simulation")
#: package -> the packages of ours it must never import
FORBIDDEN = {
    "canonical": {"connectors", "router", "hub"},
    "connectors": {"router", "hub"},
    "router": {"connectors", "hub"},
    "hub": set(),
    # the vendors' side of the wire: it must speak their APIs without borrowing ours
    "simulation": {"canonical", "connectors", "router", "hub"},
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_point_inward(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & FORBIDDEN[package])
        for path in files
        if _imported_roots(path) & FORBIDDEN[package]
    }
    assert not offenders, f"{package} must not import {sorted(FORBIDDEN[package])}: {offenders}"


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import hub.cli\nfrom router import x\nfrom . import sibling\n")
    assert _imported_roots(module) == {"hub", "router"}
