"""Every built-in connector has a conformance test class: new connectors are strict by default."""

from __future__ import annotations

import importlib

import pytest

from connectors.registry import BUILTINS, discover
from connectors.testing import ConnectorConformance


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_connector_runs_through_the_kit(name: str) -> None:
    module = importlib.import_module(f"tests.connectors.{name}.test_conformance")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ConnectorConformance)
        and value is not ConnectorConformance
        and value.__name__.startswith("Test")
    ]
    assert [cls.connector for cls in classes] == [discover(include_entry_points=False)[name]]


def test_the_seven_connectors_of_the_issue_are_built_in() -> None:
    assert set(BUILTINS) == {
        "shopify", "amazon", "woocommerce", "shipbob", "easypost", "avalara", "stripe",
    }  # fmt: skip
    kinds = {cls.kind.value for cls in discover(include_entry_points=False).values()}
    assert kinds == {"storefront", "marketplace", "3pl", "carrier", "tax", "payment"}
