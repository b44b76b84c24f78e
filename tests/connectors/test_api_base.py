"""Every built-in connector can be pointed at a sandbox or a local vendor simulator (``api_base``).

The override is one SDK type (:data:`connectors.spec.ApiBase`): https anywhere, plain http only on a
loopback host. Each connector replaces only its origin (plus an optional path prefix); the vendor's
own paths stay, so a simulator serves the documented URLs under its own origin.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from connectors.amazon import AmazonConnector
from connectors.base import Connector
from connectors.errors import ConnectorConfigError
from connectors.registry import BUILTINS, get_connector
from connectors.spec import ApiBase
from connectors.testing import OutboundCase
from tests.connectors.amazon import test_conformance as amazon
from tests.connectors.avalara import test_conformance as avalara
from tests.connectors.easypost import test_conformance as easypost
from tests.connectors.shipbob import test_conformance as shipbob
from tests.connectors.shopify import test_conformance as shopify
from tests.connectors.stripe import test_conformance as stripe
from tests.connectors.woocommerce import test_conformance as woocommerce

SIM = "http://127.0.0.1:8765/sim"


class Holder(BaseModel):
    url: ApiBase


# -- the shared type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://api.example.com", "https://api.example.com"),
        ("https://api.example.com/", "https://api.example.com"),
        ("https://sandbox.example.com:8443/v", "https://sandbox.example.com:8443/v"),
        ("http://127.0.0.1:8765/shopify/", "http://127.0.0.1:8765/shopify"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_https_or_loopback_http_is_accepted_without_trailing_slash(
    value: str, expected: str
) -> None:
    assert Holder(url=value).url == expected
    schema = Holder.model_json_schema()
    assert not list(Draft202012Validator(schema).iter_errors({"url": value}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://api.example.com", "plain http is allowed only for loopback hosts"),
        ("http://10.0.0.5:8080", "plain http is allowed only for loopback hosts"),
        ("http://127.0.0.2", "plain http is allowed only for loopback hosts"),
        ("ftp://api.example.com", "must be an absolute https:// URL"),
        ("api.example.com", "must be an absolute https:// URL"),
        ("https://user:pw@api.example.com", "must not carry credentials"),
        ("https://api.example.com/?key=1", "must not have a query string"),
        ("https://api.example.com/#x", "must not have a query string"),
        ("http://127.0.0.1:99999", "invalid port"),
    ],
)
def test_anything_else_is_refused_by_model_and_schema(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Holder(url=value)
    schema = Holder.model_json_schema()
    if "port" not in message:  # JSON Schema cannot check a port's range
        assert list(Draft202012Validator(schema).iter_errors({"url": value}))


# -- every connector ------------------------------------------------------------------------------

#: connector -> (valid config, an outbound case, the origin api_base replaces,
#: what base_url() gives with api_base=SIM)
CASES: dict[str, tuple[dict[str, Any], OutboundCase, str, str]] = {
    "shopify": (
        shopify.CONFIG,
        shopify.TestShopifyConformance.outbound[0],
        "https://acme-test.myshopify.com",
        f"{SIM}/admin/api/2025-01/",
    ),
    "woocommerce": (
        woocommerce.CONFIG,
        woocommerce.TestWooCommerceConformance.outbound[0],
        "https://shop.example.com",
        f"{SIM}/wp-json/wc/v3/",
    ),
    "amazon": (
        amazon.CONFIG,
        amazon.TestAmazonConformance.outbound[0],
        "https://sellingpartnerapi-na.amazon.com",
        SIM,
    ),
    "avalara": (
        avalara.CONFIG,
        avalara.TestAvalaraConformance.outbound[0],
        "https://sandbox-rest.avatax.com",
        f"{SIM}/api/v2/",
    ),
    "shipbob": (
        shipbob.CONFIG,
        shipbob.TestShipBobConformance.outbound[0],
        "https://api.shipbob.com",
        SIM,
    ),
    "easypost": (
        easypost.CONFIG,
        easypost.TestEasyPostConformance.outbound[0],
        "https://api.easypost.com",
        SIM,
    ),
    "stripe": (
        stripe.CONFIG,
        stripe.TestStripeConformance.outbound[0],
        "https://api.stripe.com",
        SIM,
    ),
}


def test_every_builtin_is_covered() -> None:
    assert set(CASES) == set(BUILTINS)


def _cls(name: str) -> type[Connector]:
    return get_connector(name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_default_base_is_the_vendor_and_the_override_keeps_the_vendor_path(name: str) -> None:
    config, case, origin, expected = CASES[name]
    cls = _cls(name)
    assert cls(config).base_url().startswith(origin)
    overridden = cls({**config, "api_base": SIM + "/"}, sleep=lambda _s: None)
    assert overridden.base_url() == expected
    # the real outbound call goes to the simulator under the vendor's documented path
    with respx.mock(assert_all_called=True) as mock:
        route = mock.request(case.method, case.url.replace(origin, SIM, 1)).mock(
            return_value=case.ok()
        )
        case.call(overridden)
    assert route.call_count == 1
    overridden.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_http_to_a_remote_host_is_a_clear_config_error(name: str) -> None:
    config = CASES[name][0]
    cls = _cls(name)
    with pytest.raises(ConnectorConfigError, match=r"api_base: .*loopback hosts"):
        cls.parse_config({**config, "api_base": "http://sim.example.com"})
    schema = cls.config_schema()
    bad = json.loads(json.dumps({**config, "api_base": "http://sim.example.com"}))
    assert list(Draft202012Validator(schema).iter_errors(bad))


def test_amazon_lwa_endpoint_is_overridable_too() -> None:
    config = {**amazon.CONFIG, "access_token": None}
    connector = AmazonConnector(
        {**config, "api_base": SIM, "lwa_endpoint": "http://localhost:8766"},
        sleep=lambda _s: None,
    )
    with respx.mock(assert_all_called=True) as mock:
        token = mock.post("http://localhost:8766/auth/o2/token").mock(
            return_value=httpx.Response(
                200,
                json={
                    "access_token": "Atza|sim-token",
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "refresh_token": "Atzr|sim",
                },
            )
        )
        patch = mock.patch(f"{SIM}/listings/2021-08-01/items/A3TH9S8BH6GOGM/MUG-BLUE").mock(
            return_value=httpx.Response(
                200, json={"sku": "MUG-BLUE", "status": "ACCEPTED", "submissionId": "f1dc2914"}
            )
        )
        connector.set_quantity("MUG-BLUE", 7)  # type: ignore[attr-defined]
    assert token.call_count == 1
    assert patch.calls[0].request.headers["x-amz-access-token"] == "Atza|sim-token"
    assert AmazonConnector(amazon.CONFIG).config.lwa_endpoint == "https://api.amazon.com"  # type: ignore[attr-defined]
    with pytest.raises(ConnectorConfigError, match="lwa_endpoint"):
        AmazonConnector.parse_config({**config, "lwa_endpoint": "http://api.amazon.com"})
