"""ShipBob inventory polling: GET /2026-01/inventory-level/locations to stock.counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from canonical.inventory import CycleCount
from connectors.base import load_payload
from connectors.errors import TranslationError
from connectors.shipbob import ShipBobConnector
from tests.connectors.shipbob.test_conformance import API, CONFIG, CTX, FIXTURES

LEVELS = f"{API}/2026-01/inventory-level/locations"


def page() -> Any:
    return load_payload((FIXTURES / "inventory_levels_page.json").read_bytes())


def counts(payload: Any) -> list[CycleCount]:
    envelopes = ShipBobConnector.translate("inventory_levels", payload, CTX)
    assert {e.event_type for e in envelopes} == {"stock.counted"}
    return [e.payload for e in envelopes]  # type: ignore[misc]


def test_one_count_per_fulfilment_centre_with_on_hand_quantities() -> None:
    cicero, moreno = counts(page())
    assert cicero.location == "shipbob_cicero"  # mapped in the context
    assert moreno.location == "shipbob_228"  # unmapped: shipbob_<id>
    assert [(line.sku, line.quantity) for line in cicero.lines] == [
        ("TSHIRT-RED-M", 140),
        ("VITAMIN-C-60", 37),
    ]
    assert [(line.sku, line.quantity) for line in moreno.lines] == [("TSHIRT-RED-M", 0)]
    assert cicero.as_of == datetime(2026, 3, 2, 14, 55, 7, tzinfo=UTC)
    assert cicero.source == "shipbob"
    assert cicero.count_id != moreno.count_id


def test_keys_follow_the_snapshot_not_the_delivery() -> None:
    first = ShipBobConnector.translate("inventory_levels", page(), CTX)
    later = page()
    later["counted_at"] = "2026-03-02T15:55:07+00:00"
    other_page = page()
    other_page["items"] = other_page["items"][:1]
    keys = [e.idempotency_key for e in first]
    assert keys == [
        e.idempotency_key for e in ShipBobConnector.translate("inventory_levels", page(), CTX)
    ]
    assert not set(keys) & {
        e.idempotency_key for e in ShipBobConnector.translate("inventory_levels", later, CTX)
    }
    assert not set(keys) & {
        e.idempotency_key for e in ShipBobConnector.translate("inventory_levels", other_page, CTX)
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("items", 0, "sku"), None, "items[0].sku"),
        (("items", 1, "locations", 0, "on_hand_quantity"), -2, "items[1].locations[0]"),
        (("counted_at",), "2026-03-02T14:55:07", "counted_at"),
    ],
)
def test_bad_pages_name_the_field(path: tuple[Any, ...], value: Any, field: str) -> None:
    payload = page()
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(TranslationError) as caught:
        ShipBobConnector.translate("inventory_levels", payload, CTX)
    assert caught.value.field.startswith(field)


def test_poll_pages_with_the_cursor_and_dates_the_snapshot_by_shipbob() -> None:
    body = page()
    del body["counted_at"]
    last = {**body, "items": [], "next": None}
    connector = ShipBobConnector(CONFIG, sleep=lambda _s: None)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(LEVELS).mock(
            side_effect=[
                httpx.Response(200, json=body, headers={"Date": "Mon, 02 Mar 2026 14:55:07 GMT"}),
                httpx.Response(200, json=last, headers={"Date": "Mon, 02 Mar 2026 14:55:08 GMT"}),
            ]
        )
        envelopes = connector.poll_inventory(CTX)
    first, second = (call.request for call in route.calls)
    assert dict(first.url.params) == {"PageSize": "100"}
    assert dict(second.url.params) == {"Cursor": "eyJwYWdlIjoyfQ"}
    assert first.headers["shipbob_channel_id"] == "104729"
    assert first.headers["Authorization"] == f"Bearer {CONFIG['access_token']}"
    assert [e.payload.location for e in envelopes] == ["shipbob_cicero", "shipbob_228"]  # type: ignore[union-attr]
    assert envelopes[0].occurred_at == datetime(2026, 3, 2, 14, 55, 7, tzinfo=UTC)
    assert json.loads(envelopes[0].model_dump_json())["payload"]["lines"][0] == {
        "sku": "TSHIRT-RED-M",
        "quantity": 140,
        "lot": None,
    }
