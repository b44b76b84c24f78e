"""Amazon's push_availability against the documented Listings Items API (patchListingsItem)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from connectors.amazon import AmazonConnector
from connectors.errors import MissingExternalIdError, RequestRejected
from tests.connectors.amazon.test_conformance import API, CONFIG

ITEM = f"{API}/listings/2021-08-01/items/A3TH9S8BH6GOGM"


def accepted(sku: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "sku": sku,
            "status": "ACCEPTED",
            "submissionId": "f1dc2914e8a14d4f9b9ce6c7a3b9e2d1",
            "issues": [],
        },
    )


def connector(**overrides: object) -> AmazonConnector:
    return AmazonConnector({**CONFIG, **overrides}, sleep=lambda _s: None)


def test_one_merge_patch_per_marketplace_for_the_seller_sku() -> None:
    amazon = connector(marketplace_ids=["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"])
    with respx.mock(assert_all_called=True) as mock:
        route = mock.patch(f"{ITEM}/MUG%2FBLUE%20US").mock(
            side_effect=lambda _r: accepted("MUG/BLUE US")
        )
        amazon.push_availability("MUG-BLUE", 11, external_ids={"seller_sku": "MUG/BLUE US"})
    requests = [call.request for call in route.calls]
    assert [r.url.params["marketplaceIds"] for r in requests] == ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]
    assert all(r.headers["x-amz-access-token"] == CONFIG["access_token"] for r in requests)
    assert json.loads(requests[0].content) == {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 11}],
            }
        ],
    }


def test_invalid_submission_is_a_refusal_naming_the_issue_codes() -> None:
    invalid = {
        "sku": "MUG-BLUE-US",
        "status": "INVALID",
        "submissionId": "602b84b73b964e24b174a80d3a7870a3",
        "issues": [
            {
                "code": "4000003",
                "message": "The Amazon product type specified is invalid or not supported.",
                "severity": "ERROR",
                "attributeNames": ["fulfillment_availability"],
            },
            {"code": "90000900", "message": "A warning", "severity": "WARNING"},
        ],
    }
    with respx.mock() as mock:
        mock.patch(f"{ITEM}/MUG-BLUE-US").mock(return_value=httpx.Response(200, json=invalid))
        with pytest.raises(RequestRejected, match=r"status INVALID, issue codes 4000003\)"):
            connector().push_availability("MUG-BLUE", 1, external_ids={"seller_sku": "MUG-BLUE-US"})


def test_the_hub_sku_is_never_taken_for_the_seller_sku() -> None:
    with respx.mock(assert_all_called=False) as mock:
        any_call = mock.route()
        with pytest.raises(MissingExternalIdError) as caught:
            connector().push_availability("MUG-BLUE", 1, external_ids={"listing_id": "B0CX"})
    assert any_call.call_count == 0
    assert caught.value.kinds == ("seller_sku",)
    assert "seller A3TH9S8BH6GOGM" in str(caught.value)


def test_the_lwa_token_is_fetched_for_the_push_when_no_broker_token_is_configured() -> None:
    amazon = connector(access_token=None)
    with respx.mock(assert_all_called=True) as mock:
        token = mock.post("https://api.amazon.com/auth/o2/token").mock(
            return_value=httpx.Response(
                200, json={"access_token": "Atza|fresh", "token_type": "bearer", "expires_in": 3600}
            )
        )
        patch = mock.patch(f"{ITEM}/MUG-BLUE-US").mock(return_value=accepted("MUG-BLUE-US"))
        amazon.push_availability("MUG-BLUE", 2, external_ids={"seller_sku": "MUG-BLUE-US"})
    assert token.calls.last.request.content.startswith(b"grant_type=refresh_token")
    assert patch.calls.last.request.headers["x-amz-access-token"] == "Atza|fresh"
