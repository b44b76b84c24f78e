"""The release section of a deployment file: defaults, and every wrong name reported in place."""

from __future__ import annotations

from hub.config import validate_text
from tests.release.scenario import DEPLOYMENT


def problems(text: str) -> list[str]:
    _, found = validate_text(text, check_secrets=False)
    return [str(p) for p in found]


def test_the_section_is_optional_and_the_scenario_is_valid() -> None:
    assert problems("version: 1\ntenants:\n  acme: {}\n") == []
    assert problems(DEPLOYMENT) == []


def test_unknown_location_channel_level_and_default_have_did_you_mean() -> None:
    text = (
        DEPLOYMENT.replace("        wh_west:\n          timezone", "        wh_wset:\n          timezone")
        .replace("channel_weights: {amazon: 2}", "channel_weights: {amazn: 2}")
        .replace("            express: {time: \"14:00\"", "            expres: {time: \"14:00\"")
        .replace("      channel_weights", "      default_service_level: standrd\n      channel_weights")
    )  # fmt: skip
    found = problems(text)
    assert len(found) == 4, found
    line = text.splitlines().index("        wh_wset:") + 1
    assert any(
        f":{line}:9: release rules for location 'wh_wset', which is not declared under "
        "tenants.acme.locations; did you mean 'wh_west'?" in p
        for p in found
    ), found
    assert any("weight for channel 'amazn'" in p and "did you mean 'amazon'?" in p for p in found)
    assert any(
        "cut-off for service level 'expres'" in p and "did you mean 'express'?" in p for p in found
    )
    assert any(
        "default service level 'standrd' is not among release.service_levels (express, "
        "standard); did you mean 'standard'?" in p
        for p in found
    )


def test_wrong_values_are_refused_where_they_stand() -> None:
    text = DEPLOYMENT.replace("America/Chicago", "America/Chicgo").replace(
        "capacity: {orders_per_day: 2}", "capacity: {orders_per_day: 0, units_per_dya: 5}"
    )
    found = problems(text)
    assert any("unknown time zone 'America/Chicgo'" in p for p in found), found
    assert any("orders_per_day" in p and "greater than or equal to 1" in p for p in found)
    assert any("did you mean 'units_per_day'?" in p for p in found)
    repeated = DEPLOYMENT.replace(
        "      channel_weights", "      priority: [age, channel, age]\n      channel_weights"
    )
    assert any("priority names age more than once" in p for p in problems(repeated))
