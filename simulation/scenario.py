"""A day of traffic for a seed: orders, payments, shipments, returns and the webhooks that tell them.

:func:`generate` is a pure function of ``(seed, orders)``: the same pair gives byte-identical
payloads, so a demo run, a test failure or a benchmark can be reproduced exactly.

The day has a shape: demand rises through the morning, peaks in the evening, and a flash sale in
the early afternoon sends a burst of orders for a few limited SKUs across all three channels, with
demand several times the stock. The traffic is deliberately imperfect, as real traffic is: some
webhooks are delivered twice, some late, some before the event they follow, some are forgeries;
some orders break the business's rules (a price that is not the catalogue's, a value that needs a
second look, a SKU nobody sells). The scenario records what it did in :class:`Facts`, so that a
test can check the hub against what happened rather than against hard-coded numbers.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from simulation.catalogue import Catalogue, Product, build_catalogue
from simulation.orders import Buyer, Line, OrderSpec, at_time, iso_z
from simulation.vendors import amazon, easypost, shipbob, shopify, stripe, woocommerce

__all__ = ["AmazonOrder", "Delivery", "Facts", "Scenario", "generate"]

DAY = 86_400.0
FLASH_START = 14 * 3600.0
FLASH_LENGTH = 20 * 60.0
#: share of the orders that fall in the flash sale, and each channel's share of all orders
FLASH_SHARE = 0.25
CHANNEL_MIX = (("shopify_us", 0.52), ("woo_us", 0.38), ("amazon_us", 0.10))
SHOPIFY_DOMAIN = "demo-store.myshopify.com"
#: Deliveries that may arrive late without making a correct hub refuse anything: order snapshots
#: (the newest wins; a shipment or payment that overtakes its order is parked) and tracking.
#: A payment is never late, since a refund that overtook its capture would be refused, rightly.
LATE_TOPICS = frozenset({"orders/create", "order.created", "tracker.updated"})
WOO_STORE = "https://shop.demo.example"

_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kemi",
          "Luca", "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq")  # fmt: skip
_LAST = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Kowalski", "Haddad", "Novak",
         "Reyes", "Byrne", "Fischer", "Mensah")  # fmt: skip
_CITIES = (("Brooklyn", "NY", "11201"), ("Chicago", "IL", "60601"), ("Austin", "TX", "73301"),
           ("Seattle", "WA", "98101"), ("Boston", "MA", "02108"), ("Oakland", "CA", "94607"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery a vendor makes to the hub.

    ``kind`` says what the scenario made of it: ``normal``; ``duplicate`` (the vendor delivers the
    same event again, same ids and body); ``forged`` (someone who does not hold the secret posts a
    plausible body); ``late`` (delivered up to 90 minutes after the fact, after what followed it);
    ``early`` (delivered before the event it follows). ``skus`` are the SKUs whose availability the delivery can change, for the
    demo's webhook-to-channel-push latency.
    """

    at: float
    vendor: str
    instance: str
    topic: str
    body: bytes
    delivery_id: str
    event_id: str
    kind: str = "normal"
    order_key: str | None = None
    skus: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AmazonOrder:
    """An Amazon order as SP-API shows it over the day: its versions, each from a moment on."""

    spec: OrderSpec
    versions: tuple[tuple[float, str], ...]  # (from when, OrderStatus)

    def at(self, moment: float) -> tuple[float, str] | None:
        """The version visible at ``moment`` (None before the order exists)."""
        visible = [v for v in self.versions if v[0] <= moment]
        return visible[-1] if visible else None


@dataclass
class Facts:
    """What the scenario did, to check the hub against."""

    orders: dict[str, list[str]] = field(default_factory=dict)  # channel -> order keys
    cancelled: list[str] = field(default_factory=list)
    shipped: list[str] = field(default_factory=list)
    mispicked: list[str] = field(default_factory=list)  # the 3PL shipped another SKU for a line
    untracked: list[str] = field(default_factory=list)  # shipped without a tracking number
    returned: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    price_mismatch: list[str] = field(default_factory=list)
    high_value: list[str] = field(default_factory=list)
    unknown_sku: list[str] = field(default_factory=list)
    forged: list[str] = field(default_factory=list)  # delivery ids
    duplicates: list[str] = field(default_factory=list)  # delivery ids
    late: list[str] = field(default_factory=list)  # delivery ids
    flash_demand: dict[str, dict[str, int]] = field(default_factory=dict)  # sku -> channel -> units

    @property
    def orders_total(self) -> int:
        return sum(len(keys) for keys in self.orders.values())


@dataclass
class Scenario:
    seed: int
    catalogue: Catalogue
    deliveries: list[Delivery]
    amazon_orders: list[AmazonOrder]
    facts: Facts


def _dump(payload: Any) -> bytes:
    """Compact JSON, as the vendors send it; Decimals as JSON numbers (AvaTax style)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class _Builder:
    """The generator's state while it writes the day; one instance per :func:`generate` call."""

    def __init__(self, seed: int, orders: int) -> None:
        self.rng = random.Random(seed)
        self.catalogue = build_catalogue(self.rng, orders=orders)
        self.count = orders
        self.deliveries: list[Delivery] = []
        self.amazon: list[AmazonOrder] = []
        self.facts = Facts(orders={channel: [] for channel, _ in CHANNEL_MIX})
        self.sequence = 0
        self.shopify_next = 5_829_371_929_100_000_000 + self.rng.randrange(1_000_000)
        self.woo_next = 10_000 + self.rng.randrange(1_000)
        self.order_number = 1000
        self.payments: dict[str, tuple[str, str]] = {}

    # -- ids ---------------------------------------------------------------------------------

    def _hex(self, length: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))

    def _alnum(self, length: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def _external_id(self, channel: str) -> str:
        if channel == "shopify_us":
            self.shopify_next += self.rng.randrange(1_000, 90_000)
            return str(self.shopify_next)
        if channel == "woo_us":
            self.woo_next += 1
            return str(self.woo_next)
        return f"11{self.rng.randrange(1, 10)}-{self.rng.randrange(10**6, 10**7)}-{self.rng.randrange(10**6, 10**7)}"

    # -- the shape of the day ------------------------------------------------------------------

    def _regular_moment(self) -> float:
        """A moment outside the flash sale: a morning and an evening peak."""
        while True:
            peak = 11 * 3600 if self.rng.random() < 0.45 else 20 * 3600
            moment = self.rng.gauss(peak, 2.5 * 3600)
            outside = not FLASH_START <= moment < FLASH_START + FLASH_LENGTH + 600
            if 600 <= moment < DAY - 3 * 3600 and outside:
                return moment

    def _channel(self) -> str:
        draw = self.rng.random()
        for channel, share in CHANNEL_MIX:
            draw -= share
            if draw < 0:
                return channel
        return CHANNEL_MIX[-1][0]

    def _buyer(self) -> Buyer:
        first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
        city, state, zip_code = self.rng.choice(_CITIES)
        return Buyer(
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}{self.rng.randrange(100)}@example.com",
            address1=f"{self.rng.randrange(1, 999)} {self.rng.choice(('Oak', 'Elm', 'Main', 'Park'))} St",
            city=city,
            state=state,
            zip=zip_code,
        )

    def _line(self, product: Product, quantity: int, price: Decimal | None = None) -> Line:
        return Line(
            line_id=self.rng.randrange(13_000_000_000_000, 14_000_000_000_000),
            sku=product.sku,
            title=product.title,
            unit_price=product.price if price is None else price,
            quantity=quantity,
            product_id=product.shopify_product_id,
            variant_id=product.shopify_variant_id,
        )

    def _spec(self, channel: str, moment: float, lines: list[Line]) -> OrderSpec:
        self.order_number += 1
        return OrderSpec(
            channel=channel,
            external_id=self._external_id(channel),
            number=self.order_number,
            placed=moment,
            lines=tuple(self._for_channel(channel, line) for line in lines),
            buyer=self._buyer(),
            shipping=Decimal("0.00") if sum(ln.total for ln in lines) >= 75 else Decimal("6.95"),
        )

    def _for_channel(self, channel: str, line: Line) -> Line:
        """WooCommerce lines name the product by its WooCommerce id."""
        if channel != "woo_us":
            return line
        try:
            product = self.catalogue.product(line.sku)
        except KeyError:
            return Line(line.line_id % 100_000, line.sku, line.title, line.unit_price,
                        line.quantity, 0, 0)  # fmt: skip
        return Line(line.line_id % 100_000, line.sku, line.title, line.unit_price,
                    line.quantity, product.woo_product_id, 0)  # fmt: skip

    # -- deliveries ------------------------------------------------------------------------------

    def _deliver(self, at: float, vendor: str, instance: str, topic: str, payload: Any,
                 *, order_key: str | None, skus: tuple[str, ...] = (), kind: str = "normal",
                 event_id: str | None = None) -> Delivery:  # fmt: skip
        self.sequence += 1
        if kind == "normal" and topic in LATE_TOPICS and self.rng.random() < 0.03:
            # the vendor's delivery queue backs up: this one arrives up to 90 minutes late
            at, kind = at + self.rng.uniform(600, 5400), "late"
        delivery = Delivery(
            at=min(max(at, 0.0), DAY - 1),
            vendor=vendor,
            instance=instance,
            topic=topic,
            body=_dump(payload),
            delivery_id=f"{self._hex(8)}-{self._hex(4)}-{self._hex(4)}-{self._hex(4)}-{self._hex(12)}",
            event_id=event_id or f"{self.sequence:08d}{self._hex(8)}",
            kind=kind,
            order_key=order_key,
            skus=skus,
        )
        self.deliveries.append(delivery)
        if kind == "late":
            self.facts.late.append(delivery.delivery_id)
        if kind == "normal" and self.rng.random() < 0.05:
            again = Delivery(
                at=min(delivery.at + self.rng.uniform(1, 90), DAY - 1),
                vendor=vendor, instance=instance, topic=topic, body=delivery.body,
                delivery_id=delivery.delivery_id, event_id=delivery.event_id,
                kind="duplicate", order_key=order_key, skus=skus,
            )  # fmt: skip
            self.deliveries.append(again)
            self.facts.duplicates.append(delivery.delivery_id)
        return delivery

    def _order_placed(self, spec: OrderSpec) -> None:
        skus = tuple(line.sku for line in spec.lines)
        self.facts.orders[spec.channel].append(spec.key)
        flash = {p.sku for p in self.catalogue.flash}
        for line in spec.lines:
            if line.sku in flash:
                demand = self.facts.flash_demand.setdefault(line.sku, {})
                demand[spec.channel] = demand.get(spec.channel, 0) + line.quantity
        if spec.channel == "shopify_us":
            early_update = self.rng.random() < 0.03
            self._deliver(spec.placed, "shopify", "shopify_us", "orders/create",
                          shopify.order(spec), order_key=spec.key, skus=skus)  # fmt: skip
            if early_update:
                # orders/updated (a note, a tag) overtakes orders/create on the way to the hub
                self._deliver(spec.placed - 1, "shopify", "shopify_us", "orders/updated",
                              shopify.order(spec, updated=spec.placed + 40),
                              order_key=spec.key, skus=skus, kind="early")  # fmt: skip
        elif spec.channel == "woo_us":
            self._deliver(spec.placed, "woocommerce", "woo_us", "order.created",
                          woocommerce.order(spec, store_url=WOO_STORE), order_key=spec.key,
                          skus=skus)  # fmt: skip
            self._stripe_payment(spec)
        else:
            self.amazon.append(AmazonOrder(spec, ((spec.placed, "Unshipped"),)))

    def _stripe_payment(self, spec: OrderSpec) -> None:
        intent = f"pi_3{self._alnum(23)}"
        charge = f"ch_3{self._alnum(23)}"
        self.payments[spec.key] = (intent, charge)
        late = self.rng.random() < 0.08
        # usually seconds after checkout; sometimes the event beats the storefront's webhook
        at = spec.placed + (self.rng.uniform(-20, -2) if late else self.rng.uniform(2, 30))
        obj = stripe.payment_intent(intent, charge, spec.total, spec.external_id, spec.channel, at)
        self._deliver(at, "stripe", "stripe", "payment_intent.succeeded",
                      stripe.event(f"evt_3{self._alnum(24)}", "payment_intent.succeeded", obj, at),
                      order_key=spec.key, kind="early" if late else "normal")  # fmt: skip

    def _cancel(self, spec: OrderSpec) -> None:
        at = spec.placed + self.rng.uniform(600, 3 * 3600)
        self.facts.cancelled.append(spec.key)
        skus = tuple(line.sku for line in spec.lines)
        if spec.channel == "shopify_us":
            self._deliver(at, "shopify", "shopify_us", "orders/cancelled",
                          shopify.order(spec, updated=at, cancelled=at, financial_status="refunded"),
                          order_key=spec.key, skus=skus)  # fmt: skip
        elif spec.channel == "woo_us":
            self._deliver(at, "woocommerce", "woo_us", "order.updated",
                          woocommerce.order(spec, status="cancelled", modified=at,
                                            store_url=WOO_STORE),
                          order_key=spec.key, skus=skus)  # fmt: skip
        else:
            self.amazon[-1] = AmazonOrder(spec, ((spec.placed, "Unshipped"), (at, "Canceled")))

    def _mispick(self, spec: OrderSpec) -> Line:
        """The order's first line, picked as the next regular product the order does not have."""
        first = spec.lines[0]
        ordered = {line.sku for line in spec.lines}
        regular = [p for p in self.catalogue.regular if p.sku not in ordered]
        wrong = regular[(first.line_id + len(self.facts.mispicked)) % len(regular)]
        return replace(first, sku=wrong.sku, title=wrong.title)

    def _ship(self, spec: OrderSpec) -> None:
        """ShipBob ships from Cicero; EasyPost tracks the parcel; some buyers send it back."""
        at = spec.placed + self.rng.uniform(1800, 3 * 3600)
        if at > DAY - 3600:
            return
        tracking = f"9400{self.rng.randrange(10**17, 10**18)}"
        # The warehouse gets a few wrong, at fixed places in the day (no draw from the random
        # stream, so every other fact of a seed stays as it was): a mis-pick and a parcel whose
        # tracking number was never uploaded; the hub must open a fulfilment exception for each.
        picked = spec.lines
        uploaded: str | None = tracking
        nth = len(self.facts.shipped)
        if nth % 20 == 5:
            picked = (self._mispick(spec), *spec.lines[1:])
            self.facts.mispicked.append(spec.key)
        elif nth % 20 == 12:
            uploaded = None
            self.facts.untracked.append(spec.key)
        self.facts.shipped.append(spec.key)
        self._deliver(at, "shipbob", "shipbob", "order_shipped",
                      shipbob.shipment(spec, self.rng.randrange(10**8, 10**9),
                                       self.rng.randrange(10**8, 10**9), 6, uploaded, at,
                                       picked),
                      order_key=spec.key)  # fmt: skip
        tracker = f"trk_{self._hex(32)}"
        previous = "pre_transit"
        moment = at
        for status in ("in_transit", "out_for_delivery", "delivered"):
            moment += self.rng.uniform(900, 2 * 3600)
            if moment > DAY - 60:
                return
            self._deliver(moment, "easypost", "easypost", "tracker.updated",
                          easypost.tracker_event(f"evt_{self._hex(32)}", tracker, tracking,
                                                 status, moment, previous),
                          order_key=spec.key)  # fmt: skip
            previous = status
        if spec.channel == "shopify_us" and self.rng.random() < 0.2:
            returned = moment + self.rng.uniform(600, 3600)
            if returned < DAY - 60:
                self.facts.returned.append(spec.key)
                self._deliver(returned, "shopify", "shopify_us", "refunds/create",
                              shopify.refund(spec, self.rng.randrange(10**12, 10**13), returned,
                                             self.catalogue.shopify_location_id),
                              order_key=spec.key)  # fmt: skip
        elif spec.channel == "woo_us" and self.rng.random() < 0.2:
            refunded = moment + self.rng.uniform(600, 3600)
            if refunded < DAY - 60:
                intent, charge = self.payments[spec.key]
                part = spec.lines[0].unit_price
                self.facts.refunded.append(spec.key)
                obj = stripe.charge_refunded(
                    charge,
                    intent,
                    spec.total,
                    f"re_3{self._alnum(23)}",
                    part,
                    spec.external_id,
                    spec.channel,
                    refunded,
                )
                self._deliver(refunded, "stripe", "stripe", "charge.refunded",
                              stripe.event(f"evt_3{self._alnum(24)}", "charge.refunded", obj,
                                           refunded),
                              order_key=spec.key)  # fmt: skip

    def _forge(self, moment: float) -> None:
        """A plausible delivery from someone without the secret; the hub must refuse it."""
        spec = self._spec(
            "shopify_us", moment, [self._line(self.rng.choice(self.catalogue.flash), 5)]
        )
        vendor, instance, topic, payload = self.rng.choice((
            ("shopify", "shopify_us", "orders/create", shopify.order(spec)),
            ("woocommerce", "woo_us", "order.created", woocommerce.order(spec, store_url=WOO_STORE)),
            ("stripe", "stripe", "charge.refunded", stripe.event(
                f"evt_3{self._alnum(24)}", "charge.refunded",
                stripe.charge_refunded(f"ch_3{self._alnum(23)}", f"pi_3{self._alnum(23)}",
                                       Decimal(500), f"re_3{self._alnum(23)}", Decimal(500),
                                       spec.external_id, "woo_us", moment), moment)),
        ))  # fmt: skip
        delivery = self._deliver(moment, vendor, instance, topic, payload, order_key=None,
                                 kind="forged")  # fmt: skip
        self.facts.forged.append(delivery.delivery_id)

    # -- the day ---------------------------------------------------------------------------------

    _GHOST = Product("MYSTERY-BOX-XL", "Mystery box XL", Decimal("35.00"), False,
                     7_999_999_999_001, 49_999_999_999_001, 2**53 + 7, 0, "B000000000")  # fmt: skip

    def _plan(self) -> list[tuple[float, str]]:
        """When each order is placed and what kind it is, in time order."""
        flash_orders = round(self.count * FLASH_SHARE)
        breakers = max(1, round(self.count * 0.02))
        plan: list[tuple[float, str]] = []
        for index in range(self.count):
            if index < flash_orders:
                plan.append((FLASH_START + self.rng.uniform(0, FLASH_LENGTH), "flash"))
            elif index < flash_orders + 3 * breakers:
                kind = ("price", "high", "unknown")[(index - flash_orders) % 3]
                plan.append((self._regular_moment(), kind))
            else:
                plan.append((self._regular_moment(), "regular"))
        return sorted(plan)

    def _basket(self, kind: str, rush: int) -> tuple[str, list[Line]]:
        """The channel and lines of an order of ``kind`` (``rush`` counts flash-sale orders)."""
        regular, flash = self.catalogue.regular, self.catalogue.flash
        channels = [channel for channel, _ in CHANNEL_MIX]
        if kind == "flash":
            # the sale is spread over its SKUs, and every channel gets its share of each
            channel = channels[(rush // 3) % 3] if rush % 2 == 0 else self._channel()
            lines = [self._line(flash[rush % 3], self.rng.choice((1, 1, 1, 2)))]
            if self.rng.random() < 0.3:
                lines.append(self._line(self.rng.choice(regular), 1))
            return channel, lines
        if kind == "price":  # 30 % under the catalogue price
            product = self.rng.choice(regular)
            cheap = (product.price * Decimal("0.7")).quantize(Decimal("0.01"))
            return "shopify_us", [self._line(product, 1, cheap)]
        if kind == "high":  # 2,360 USD: above the review threshold
            return "woo_us", [self._line(self.catalogue.product("HOODIE-GREY-L"), 40)]
        if kind == "unknown":  # a SKU nobody sells
            return "shopify_us", [self._line(self._GHOST, 1)]
        channel = self._channel()
        products = self.rng.sample(regular, self.rng.choice((1, 1, 2, 3)))
        return channel, [self._line(p, self.rng.choice((1, 1, 1, 2, 3))) for p in products]

    def build(self, seed: int) -> Scenario:
        rush = 0
        breaking = {"price": self.facts.price_mismatch, "high": self.facts.high_value,
                    "unknown": self.facts.unknown_sku}  # fmt: skip
        for moment, kind in self._plan():
            rush += kind == "flash"
            channel, lines = self._basket(kind, rush)
            spec = self._spec(channel, moment, lines)
            self._order_placed(spec)
            if kind in breaking:
                breaking[kind].append(spec.key)
            elif kind == "regular":
                draw = self.rng.random()
                if draw < 0.05:
                    self._cancel(spec)
                elif draw < 0.5:
                    self._ship(spec)
        for _ in range(max(2, round(self.count * 0.01))):
            self._forge(self._regular_moment())
        # a stable order: by time, ties by creation
        ordered = sorted(enumerate(self.deliveries), key=lambda pair: (pair[1].at, pair[0]))
        return Scenario(
            seed=seed,
            catalogue=self.catalogue,
            deliveries=[d for _, d in ordered],
            amazon_orders=self.amazon,
            facts=self.facts,
        )


def generate(seed: int, orders: int) -> Scenario:
    """The scenario for ``seed`` with ``orders`` orders (at least 10): deterministic."""
    if orders < 10:
        raise ValueError("a scenario needs at least 10 orders")
    return _Builder(seed, orders).build(seed)


def amazon_page(
    orders: list[AmazonOrder], moment: float, after: str, before: str, *, by: str = "updated"
) -> list[Any]:
    """The getOrders headers visible at ``moment`` whose LastUpdateDate (``by="updated"``) or
    PurchaseDate (``by="created"``) is in [after, before)."""
    found = []
    for order in orders:
        version = order.at(moment)
        if version is None:
            continue
        stamp = iso_z(at_time(version[0] if by == "updated" else order.spec.placed))
        if after <= stamp < before:
            found.append(amazon.order_header(order.spec, status=version[1], updated=version[0]))
    return found
