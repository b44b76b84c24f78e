"""Deployment files: every problem reported with its position, secrets only by reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from connectors.spec import ConnectorConfig
from hub.cli import app
from hub.config import DeploymentInvalidError, load_deployment, validate_text


class ShopConfig(ConnectorConfig):
    shop_domain: str
    access_token: SecretStr
    webhook_secrets: list[SecretStr]


class ShopConnector:
    config_model = ShopConfig


CONNECTORS = {"shop": ShopConnector}
ENV = {"SHOP_TOKEN": "tok-123", "SHOP_HOOK": "hook-abc"}

GOOD = """\
version: 1
tenants:
  acme:
    channels:
      shop_us: {kind: shopify}
    locations:
      wh_east: {kind: warehouse, priority: 1}
    connectors:
      shop_us:
        type: shop
        channel: shop_us
        settings: {shop_domain: acme.myshopify.com}
        secrets:
          access_token: env:SHOP_TOKEN
          webhook_secrets: [env:SHOP_HOOK]
    routes:
      - from: shop_us
        events: [order.created, order.updated]
        to: [ledger]
        governance:
          high_value: {thresholds: {USD: "1500"}}
"""


def _problems(text: str, **options: object) -> list[str]:
    options.setdefault("environ", ENV)
    options.setdefault("connectors", CONNECTORS)
    _, problems = validate_text(text, filename="deploy.yaml", **options)  # type: ignore[arg-type]
    return [str(p) for p in problems]


def test_a_good_file_validates() -> None:
    deployment, problems = validate_text(GOOD, environ=ENV, connectors=CONNECTORS)
    assert problems == []
    assert deployment is not None
    route = deployment.tenants["acme"].routes[0]
    assert route.source == "shop_us"
    assert route.governance is not None
    assert str(route.governance.high_value.thresholds["USD"]) == "1500"


def test_unknown_keys_are_reported_with_position_and_suggestion() -> None:
    text = GOOD.replace("priority: 1", "priorty: 1").replace("routes:", "rootes:")
    assert _problems(text) == [
        "deploy.yaml:7:34: unknown key 'priorty' in tenants.acme.locations.wh_east; "
        "did you mean 'priority'?",
        "deploy.yaml:16:5: unknown key 'rootes' in tenants.acme; did you mean 'routes'?",
    ]


def test_nested_rule_settings_get_suggestions_too() -> None:
    text = GOOD.replace("high_value: {thresholds", "high_value: {thresolds")
    [problem] = _problems(text)
    assert problem.startswith("deploy.yaml:21:24: unknown key 'thresolds'")
    assert "did you mean 'thresholds'?" in problem


def test_unknown_connector_type_and_dangling_references() -> None:
    text = (
        GOOD.replace("type: shop\n", "type: shopp\n")
        .replace("- from: shop_us", "- from: shop_usa")
        .replace("to: [ledger]", "to: [ledgr]")
        .replace("order.updated]", "order.updatd]")
    )
    problems = _problems(text)
    assert (
        "deploy.yaml:10:15: unknown connector type 'shopp'; did you mean 'shop'? (available: shop)"
        in problems
    )
    assert any(
        ":17:15: route comes from 'shop_usa'" in p and "did you mean 'shop_us'" in p
        for p in problems
    )
    assert any(":18:33: unknown canonical event 'order.updatd'" in p for p in problems)
    assert any(":19:14: route points to 'ledgr'" in p for p in problems)


def test_secrets_are_never_inline_and_missing_ones_are_named() -> None:
    text = GOOD.replace(
        "settings: {shop_domain: acme.myshopify.com}",
        "settings: {shop_domain: acme.myshopify.com, access_token: shpat_live_123}",
    )
    problems = _problems(text, environ={"SHOP_HOOK": "x"})
    assert any(
        "'access_token' is a secret and must not be written in the file" in p for p in problems
    )
    assert any(
        ":14:25: secret 'access_token' is missing: environment variable SHOP_TOKEN is not set" in p
        for p in problems
    )
    assert all("shpat_live_123" not in p for p in problems)


def test_secrets_come_from_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("file-token\n")
    text = GOOD.replace("env:SHOP_TOKEN", f"file:{token}")
    assert _problems(text) == []
    assert any(
        "secrets file" in p and "cannot be read" in p
        for p in _problems(GOOD.replace("env:SHOP_TOKEN", "file:/nonexistent/x"))
    )


def test_secret_checks_can_be_skipped_for_validation_off_the_target_machine() -> None:
    assert _problems(GOOD, environ={}, check_secrets=False) == []


def test_connector_settings_are_validated_by_the_connector() -> None:
    text = GOOD.replace("settings: {shop_domain: acme.myshopify.com}", "settings: {shop_domian: x}")
    problems = _problems(text)
    assert any(
        "shop has no setting 'shop_domian'; did you mean 'shop_domain'?" in p for p in problems
    )
    assert any("shop needs setting 'shop_domain'" in p for p in problems)


def test_broken_yaml_and_duplicate_keys_point_at_the_line() -> None:
    assert _problems("version: 1\ntenants: [\n")[0].startswith("deploy.yaml:3:1: not valid YAML")
    [problem] = _problems("version: 1\nversion: 1\n")
    assert problem == "deploy.yaml:2:1: not valid YAML: duplicate key 'version'"


def test_wrong_types_name_the_field() -> None:
    [problem] = _problems(GOOD.replace("priority: 1", "priority: first"))
    assert problem.startswith("deploy.yaml:7:44: tenants.acme.locations.wh_east.priority:")


def test_load_deployment_raises_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text("version: 2\nbrokr: {}\n")
    with pytest.raises(DeploymentInvalidError) as info:
        load_deployment(path, connectors=CONNECTORS)
    assert len(info.value.problems) == 2


def test_cli_validate_exit_codes_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntenants:\n  acme:\n    chanels: {}\n")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert (
        f"{bad}:4:5: unknown key 'chanels' in tenants.acme; did you mean 'channels'?"
        in result.output
    )
    result = runner.invoke(app, ["validate", str(bad), "--json"])
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"][0]["line"] == 4

    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\n")
    result = runner.invoke(app, ["validate", str(empty)])
    assert result.exit_code == 0, result.output
    assert "valid (0 tenants, 0 connector instances)" in result.output


def test_outbound_routes_come_from_the_ledger_and_go_to_connectors_that_act_on_them() -> None:
    ShopConnector.accepts = ("availability.changed",)  # type: ignore[attr-defined]
    try:
        pushes = GOOD + "      - {from: ledger, events: [availability.changed], to: [shop_us]}\n"
        assert _problems(pushes) == []
        wrong_event = pushes.replace("events: [availability.changed]", "events: [order.created]")
        assert _problems(wrong_event) == [
            "deploy.yaml:22:54: 'shop_us' (shop) does not act on order.created; "
            "it accepts availability.changed"
        ]
        loop = pushes.replace("to: [shop_us]}", "to: [ledger]}")
        [problem] = _problems(loop)
        assert "not back to the ledger" in problem
        typo = pushes.replace("from: ledger", "from: ledgr")
        [problem] = _problems(typo)
        assert "did you mean 'ledger'" in problem
    finally:
        del ShopConnector.accepts  # type: ignore[attr-defined]


EASYPOST_NODE = """\
version: 1
tenants:
  acme:
    locations:
      wh_east: {kind: warehouse, priority: 1}
    connectors:
      labels:
        type: easypost
        location: wh_east
        settings:
          origins:
            wh_west: {company: Acme, line1: 1 Main St, city: Newark, postal_code: "07114", country: US}
          parcel: {weight_oz: 16}
        secrets:
          api_key: env:SHOP_TOKEN
          webhook_secrets: [env:SHOP_HOOK]
    routes:
      - {from: ledger, events: [fulfillment.requested], to: [labels]}
"""


def test_an_easypost_node_without_its_origin_address_is_refused_at_load_time() -> None:
    from connectors.easypost import EasyPostConnector

    connectors = {"easypost": EasyPostConnector}
    [problem] = _problems(EASYPOST_NODE, connectors=connectors)
    assert problem.startswith("deploy.yaml:12:")  # at settings.origins
    assert "serves location 'wh_east' but settings.origins has no address for it" in problem
    fixed = EASYPOST_NODE.replace("wh_west: {company", "wh_east: {company")
    assert _problems(fixed, connectors=connectors) == []
    no_parcel = fixed.replace("          parcel: {weight_oz: 16}\n", "")
    [problem] = _problems(no_parcel, connectors=connectors)
    assert "has no settings.parcel" in problem


def test_a_cancellation_route_needs_a_node_that_cancels() -> None:
    """``fulfillment.requested`` implies ``fulfillment.cancelled``; naming the cancellation alone
    is allowed, but only to an instance serving a location whose connector cancels."""
    from connectors.easypost import EasyPostConnector

    connectors = {"easypost": EasyPostConnector, "shop": ShopConnector}
    node = EASYPOST_NODE.replace("wh_west: {company", "wh_east: {company")
    explicit = node.replace("events: [fulfillment.requested]", "events: [fulfillment.cancelled]")
    assert _problems(explicit, connectors=connectors) == []
    nowhere = explicit.replace("        location: wh_east\n", "")
    problems = _problems(nowhere, connectors=connectors)
    assert any(
        "serves no location: give it location: to receive fulfillment.cancelled" in p
        for p in problems
    )
    ShopConnector.accepts = ("fulfillment.requested",)  # type: ignore[attr-defined]
    try:
        to_shop = GOOD.rstrip("\n") + (
            "\n      - {from: ledger, events: [fulfillment.cancelled], to: [shop_us]}\n"
        )
        assert any("does not act on fulfillment.cancelled" in p for p in _problems(to_shop))
    finally:
        del ShopConnector.accepts  # type: ignore[attr-defined]
