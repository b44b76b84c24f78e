"""Discovery: built-ins, entry points, duplicates, and a third-party package installed with pip."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors import registry
from connectors.errors import (
    ConnectorConfigError,
    DuplicateConnectorError,
    UnknownConnectorError,
)
from connectors.shopify import ShopifyConnector

ROOT = Path(__file__).resolve().parents[2]


def test_builtins_are_found_without_entry_points() -> None:
    found = registry.discover(include_entry_points=False)
    assert found["shopify"] is ShopifyConnector
    assert {"shopify", "stripe", "easypost"} <= set(found)


def test_unknown_connector_lists_the_known() -> None:
    with pytest.raises(UnknownConnectorError, match="shopify"):
        registry.get_connector("magento")


def _fake_entry_points(points: list[EntryPoint]) -> Any:
    def entry_points(group: str) -> list[EntryPoint]:
        assert group == registry.ENTRY_POINT_GROUP
        return points

    return entry_points


def test_same_class_under_entry_point_and_builtin_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint("shopify", "connectors.shopify.connector:ShopifyConnector", "x")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points([point]))
    assert registry.discover()["shopify"] is ShopifyConnector


class OtherShopify(ShopifyConnector):
    name: ClassVar[str] = "shopify"


def test_two_classes_claiming_one_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint("shopify", f"{__name__}:OtherShopify", "x")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points([point]))
    with pytest.raises(DuplicateConnectorError, match="shopify"):
        registry.discover()


def test_entry_point_name_must_match_connector_name(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint("shopify2", "connectors.shopify.connector:ShopifyConnector", "x")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points([point]))
    with pytest.raises(ConnectorConfigError, match="names must match"):
        registry.discover()


def test_entry_point_that_is_not_a_connector_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint("json", "json:dumps", "x")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points([point]))
    with pytest.raises(ConnectorConfigError, match="not a Connector"):
        registry.discover()


PACKAGE_MODULE = '''
"""A third-party carrier connector, shipped in its own package."""
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from canonical.fulfillment import TrackingEvent
from connectors.base import Connector
from connectors.spec import ConnectorConfig, ConnectorKind, EventSpec
from connectors.translate import Fields, build, envelope
from connectors.webhooks import HmacBodyVerifier


class ParcelConfig(ConnectorConfig):
    api_key: SecretStr
    webhook_secrets: list[SecretStr] = Field(min_length=1)


def translate(raw: Any, ctx: Any) -> list:
    scan = Fields(raw)
    event = build(TrackingEvent, "", tenant=ctx.tenant, tracking_number=scan.str("barcode"),
                  carrier="parcelco", status=scan.str("state"), occurred_at=scan.time("at"))
    return [envelope(ctx, "parcelco", event, event_type="tracking.updated",
                     source_ids=("scan", scan.id("scan_id")), occurred_at=event.occurred_at)]


class ParcelCoConnector(Connector):
    name: ClassVar[str] = "parcelco"
    kind: ClassVar[ConnectorKind] = ConnectorKind.CARRIER
    config_model: ClassVar[type[ConnectorConfig]] = ParcelConfig
    events: ClassVar[dict] = {"scan": EventSpec("scan", translate, ("tracking.updated",))}
    webhook_verifier = HmacBodyVerifier("X-Parcel-Signature", encoding="base64")
'''

PACKAGE_TEST = """
import json
from connectors.testing import ConnectorConformance, Sample
from parcelco_connector import ParcelCoConnector

SCAN = {"scan_id": 12, "barcode": "PC123", "state": "in_transit", "at": "2026-03-02T10:00:00Z"}


class TestParcelCo(ConnectorConformance):
    connector = ParcelCoConnector
    valid_config = {"api_key": "pc-key-123456", "webhook_secrets": ["pc-secret"]}
    invalid_configs = [{"api_key": "pc-key-123456", "webhook_secrets": []}]
    samples = [Sample("scan", json.dumps(SCAN).encode(), "scan.json")]
    waivers = {"outbound": "scans only", "pagination": "scans only"}

    def change(self, sample, payload):
        return {**payload, "scan_id": 13, "state": "delivered"}
"""


def _wheel(folder: Path) -> Path:
    """A minimal wheel of the throwaway package, built by hand so the test needs no build backend."""
    import base64
    import hashlib
    import zipfile

    dist = "parcelco_connector-1.0.0.dist-info"
    files = {
        "parcelco_connector/__init__.py": textwrap.dedent(PACKAGE_MODULE),
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: parcelco-connector\nVersion: 1.0.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": (
            "[commerce_hub.connectors]\nparcelco = parcelco_connector:ParcelCoConnector\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / "parcelco_connector-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def test_third_party_package_is_discovered_and_passes_the_kit(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    target = tmp_path / "site"
    # --target keeps the throwaway package out of the shared environment
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    listed = subprocess.run(
        [sys.executable, "-m", "hub", "connectors", "list", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "parcelco" in listed.stdout
    (tmp_path / "test_parcelco.py").write_text(textwrap.dedent(PACKAGE_TEST))
    kit = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), "-c", os.devnull, str(tmp_path / "test_parcelco.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=240,
    )  # fmt: skip
    assert kit.returncode == 0, kit.stdout + kit.stderr
    assert "passed" in kit.stdout


@pytest.mark.parametrize(
    ("name", "headers", "payload", "event"),
    [
        ("shopify", {"x-shopify-topic": "orders/create"}, {}, "orders/create"),
        ("woocommerce", {"X-WC-Webhook-Topic": "order.updated"}, {}, "order.updated"),
        ("stripe", {}, {"object": "event", "type": "charge.refunded"}, "charge.refunded"),
        ("easypost", {}, {"object": "Event", "description": "tracker.updated"}, "tracker.updated"),
        ("amazon", {}, {"NotificationType": "ORDER_CHANGE"}, "ORDER_CHANGE"),
        ("shipbob", {"x-webhook-topic": "order.shipped"}, {}, "order.shipped"),
    ],
)
def test_webhook_event_names_the_vendor_event(
    name: str, headers: dict[str, str], payload: dict[str, str], event: str
) -> None:
    assert registry.get_connector(name).webhook_event(headers, payload) == event


@pytest.mark.parametrize(
    ("name", "headers", "payload"),
    [
        ("shopify", {"X-Shopify-Topic": "carts/create"}, {}),
        ("shopify", {}, {}),
        ("stripe", {}, {"type": "plan.created"}),
        ("avalara", {}, {}),
    ],
)
def test_webhook_event_refuses_what_the_connector_does_not_translate(
    name: str, headers: dict[str, str], payload: dict[str, str]
) -> None:
    from connectors.errors import UnknownEventError

    with pytest.raises(UnknownEventError):
        registry.get_connector(name).webhook_event(headers, payload)
