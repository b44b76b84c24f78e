"""The vendors' own Python SDKs, pointed at the simulation (only the base URL changed), complete
their calls, and accept the webhooks the simulation signs."""

from __future__ import annotations

import pytest

from simulation import generate
from simulation.sender import vendor_headers
from simulation.server import SimulationServer, World

stripe = pytest.importorskip("stripe")
easypost = pytest.importorskip("easypost")
sp_orders = pytest.importorskip("sp_api.api")
sp_auth = pytest.importorskip("sp_api.auth")
sp_base = pytest.importorskip("sp_api.base")

# The SDKs keep their own connection pools open (requests sessions, httpx clients) and never close
# them; the sockets they leave to the garbage collector are theirs, not the simulation's.
pytestmark = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"
)


@pytest.fixture(scope="module")
def scenario():
    return generate(11, 200)


@pytest.fixture(scope="module")
def sim(scenario):
    with SimulationServer(World.for_scenario(scenario)) as server:
        yield server


def test_stripe_sdk_creates_a_refund_idempotently(sim) -> None:
    client = stripe.StripeClient("sk_test_simulated", base_addresses={"api": f"{sim.url}/stripe"})
    params = {"payment_intent": "pi_3Sim0000000000000000001", "amount": 1250,
              "reason": "requested_by_customer"}  # fmt: skip
    refunds = getattr(client, "v1", client).refunds  # stripe < 12 has no v1 namespace
    refund = refunds.create(params, {"idempotency_key": "order-1-refund-1"})
    again = refunds.create(params, {"idempotency_key": "order-1-refund-1"})
    assert (refund.object, refund.amount, refund.status) == ("refund", 1250, "succeeded")
    assert again.id == refund.id
    assert refunds.retrieve(refund.id).payment_intent == params["payment_intent"]
    calls = sim.world.journal.calls("stripe", "refunds.create")
    assert [c.body["amount"] for c in calls] == ["1250", "1250"]


def test_easypost_sdk_buys_a_label(sim) -> None:
    client = easypost.EasyPostClient("EZTK_simulated", api_base=f"{sim.url}/easypost/v2")
    address = {"name": "Ada Okafor", "street1": "12 Main St", "city": "Brooklyn",
               "state": "NY", "zip": "11201", "country": "US"}  # fmt: skip
    shipment = client.shipment.create(
        to_address=address, from_address={**address, "name": "Demo Store"},
        parcel={"length": 10, "width": 8, "height": 4, "weight": 15.4},
    )  # fmt: skip
    cheapest = min(shipment.rates, key=lambda rate: float(rate.rate))
    bought = client.shipment.buy(shipment.id, rate=cheapest)
    assert bought.selected_rate.id == cheapest.id
    assert bought.tracking_code.startswith("9400")
    assert bought.postage_label.label_url.endswith(".png")


def test_amazon_sp_api_sdk_lists_orders_page_by_page(sim, scenario) -> None:
    class SimulatedLwa(sp_auth.AccessTokenClient):
        scheme = "http://"
        host = f"{sim.host}:{sim.port}/amazon"

    credentials = {"refresh_token": "Atzr|simulated", "lwa_app_id": "amzn1.application-oa2-client.sim",
                   "lwa_client_secret": "simulated-secret"}  # fmt: skip
    client = sp_orders.Orders(
        marketplace=sp_base.Marketplaces.US, credentials=credentials,
        auth_token_client_class=SimulatedLwa,
    )  # fmt: skip
    client.endpoint = f"{sim.url}/amazon"
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        if token:
            response = client.get_orders(NextToken=token)
        else:
            response = client.get_orders(CreatedAfter="2026-03-01T00:00:00Z", MaxResultsPerPage=7)
        pages += 1
        seen.extend(order["AmazonOrderId"] for order in response.payload["Orders"])
        token = response.next_token
        if not token:
            break
    expected = [o.spec.external_id for o in scenario.amazon_orders]
    assert seen == expected
    assert pages == -(-len(expected) // 7) > 1
    items = client.get_order_items(expected[0]).payload["OrderItems"]
    assert [i["SellerSKU"] for i in items] == [
        line.sku for line in scenario.amazon_orders[0].spec.lines
    ]


def test_stripe_sdk_accepts_the_simulations_signature(scenario) -> None:
    secret = "whsec_simulated_0123456789"
    delivery = next(d for d in scenario.deliveries if d.vendor == "stripe" and d.kind != "forged")
    headers = vendor_headers(delivery, secret)
    event = stripe.Webhook.construct_event(
        delivery.body.decode(), headers["Stripe-Signature"], secret
    )
    assert event.type == delivery.topic
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            delivery.body.decode(),
            vendor_headers(delivery, "whsec_other")["Stripe-Signature"],
            secret,
        )


def test_easypost_sdk_accepts_the_simulations_signature(scenario) -> None:
    from easypost.util import validate_webhook

    secret = "sécret"
    delivery = next(d for d in scenario.deliveries if d.vendor == "easypost")
    event = validate_webhook(delivery.body, vendor_headers(delivery, secret), secret)
    assert event["description"] == "tracker.updated"
    with pytest.raises(easypost.errors.SignatureVerificationError):
        validate_webhook(delivery.body, vendor_headers(delivery, "other"), secret)
