"""The simulated business's master data: products with each channel's ids, locations, stock.

Ids are drawn from the scenario's random generator, in the ranges the vendors use (Shopify's
variant and inventory item ids above 2^53, WooCommerce's small product ids, ten-character ASINs),
so that a hub which loses precision on ids or mixes them up fails visibly. Flash-sale products
have little stock and all of it in one place: the demand the scenario generates for them is
several times that stock, which is what makes overselling a real risk rather than a theory.
"""

from __future__ import annotations

import csv
import io
import random
import string
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["CHANNELS", "Catalogue", "Location", "Product", "build_catalogue"]

#: The simulated business's sales channels: (channel slug, vendor).
CHANNELS: tuple[tuple[str, str], ...] = (
    ("shopify_us", "shopify"),
    ("woo_us", "woocommerce"),
    ("amazon_us", "amazon"),
)

_REGULAR = (
    ("MUG-BLUE", "Blue mug, 12 oz", "14.00"),
    ("MUG-GREEN", "Green mug, 12 oz", "14.00"),
    ("TEE-BLACK-M", "Black tee, M", "24.00"),
    ("TEE-BLACK-L", "Black tee, L", "24.00"),
    ("TOTE-CANVAS", "Canvas tote", "19.50"),
    ("CAP-NAVY", "Navy cap", "22.00"),
    ("BOTTLE-STEEL", "Steel bottle, 750 ml", "29.00"),
    ("NOTEBOOK-A5", "A5 notebook, dotted", "12.50"),
    ("SOCKS-3PK", "Socks, 3 pack", "16.00"),
    ("HOODIE-GREY-L", "Grey hoodie, L", "59.00"),
)
_FLASH = (
    ("SNEAKER-LTD-42", "Limited sneaker, EU 42", "129.00"),
    ("WATCH-LTD", "Limited field watch", "189.00"),
    ("JACKET-LTD-M", "Limited rain jacket, M", "149.00"),
)


@dataclass(frozen=True, slots=True)
class Product:
    """One SKU with its price and what each channel calls it."""

    sku: str
    title: str
    price: Decimal
    flash: bool
    shopify_product_id: int
    shopify_variant_id: int
    shopify_inventory_item_id: int
    woo_product_id: int
    asin: str


@dataclass(frozen=True, slots=True)
class Location:
    """A stock location; ``shipbob_fc`` is the ShipBob fulfilment centre id when it is one."""

    slug: str
    kind: str
    priority: int
    region: str
    country: str
    shipbob_fc: int | None = None


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything the business knows before the day starts."""

    tenant: str
    currency: str
    products: tuple[Product, ...]
    locations: tuple[Location, ...]
    stock: dict[tuple[str, str], int] = field(default_factory=dict)
    shopify_location_id: int = 0

    def product(self, sku: str) -> Product:
        for product in self.products:
            if product.sku == sku:
                return product
        raise KeyError(sku)

    @property
    def flash(self) -> tuple[Product, ...]:
        return tuple(p for p in self.products if p.flash)

    @property
    def regular(self) -> tuple[Product, ...]:
        return tuple(p for p in self.products if not p.flash)

    def total_stock(self, sku: str) -> int:
        return sum(units for (s, _), units in self.stock.items() if s == sku)

    def skus_csv(self) -> str:
        """``hub catalog import`` SKU rows: one row per SKU and channel, with that channel's ids."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["tenant", "sku", "title", "channel", "product_id", "variant_id",
             "inventory_item_id", "seller_sku"]
        )  # fmt: skip
        for p in self.products:
            writer.writerow(
                [self.tenant, p.sku, p.title, "shopify_us", p.shopify_product_id,
                 p.shopify_variant_id, p.shopify_inventory_item_id, ""]
            )  # fmt: skip
            writer.writerow([self.tenant, p.sku, p.title, "woo_us", p.woo_product_id, "", "", ""])
            writer.writerow([self.tenant, p.sku, p.title, "amazon_us", "", "", "", p.sku])
        return out.getvalue()

    def locations_csv(self) -> str:
        """``hub catalog import`` location rows."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["tenant", "location", "kind", "region", "priority"])
        for loc in self.locations:
            writer.writerow([self.tenant, loc.slug, loc.kind, loc.region, loc.priority])
        return out.getvalue()


def _asin(rng: random.Random) -> str:
    return "B0" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def build_catalogue(rng: random.Random, *, orders: int = 300, tenant: str = "demo") -> Catalogue:
    """The catalogue for one scenario: the same generator state always gives the same ids.

    Stock scales with the day's order count: regular SKUs never run short, while each flash-sale
    SKU gets roughly a third to a half of the units the flash sale will ask for.
    """
    flash_base = max(4, round(orders * 0.045))
    regular_scale = max(1.0, orders / 300)
    products = []
    # WooCommerce ids are small, so draw them without repeats: two SKUs never share a product
    woo_ids = iter(rng.sample(range(100, 10_000), len(_REGULAR) + len(_FLASH)))
    for rows, flash in ((_REGULAR, False), (_FLASH, True)):
        for sku, title, price in rows:
            products.append(
                Product(
                    sku=sku,
                    title=title,
                    price=Decimal(price),
                    flash=flash,
                    shopify_product_id=rng.randrange(7_000_000_000_000, 8_000_000_000_000),
                    shopify_variant_id=rng.randrange(40_000_000_000_000, 50_000_000_000_000),
                    shopify_inventory_item_id=rng.randrange(2**53 + 1, 2**53 + 10_000_000_000_000),
                    woo_product_id=next(woo_ids),
                    asin=_asin(rng),
                )
            )
    # ShipBob fulfils from Cicero (IL); its Bethlehem (PA) centre holds a reserve of the regulars.
    # Both are 3PL nodes, so the hub sources by priority: Cicero while it has the units.
    locations = (
        Location("shipbob_6", "3pl", 1, "US-CENTRAL", "US", shipbob_fc=6),
        Location("shipbob_10", "3pl", 2, "US-EAST", "US", shipbob_fc=10),
    )
    stock: dict[tuple[str, str], int] = {}
    for product in products:
        if product.flash:
            low, high = flash_base * 3 // 4, flash_base * 5 // 4
            stock[(product.sku, "shipbob_6")] = rng.randrange(low, high + 1)
        else:
            stock[(product.sku, "shipbob_6")] = round(rng.randrange(400, 600) * regular_scale)
            stock[(product.sku, "shipbob_10")] = round(rng.randrange(50, 150) * regular_scale)
    return Catalogue(
        tenant=tenant,
        currency="USD",
        products=tuple(products),
        locations=locations,
        stock=stock,
        shopify_location_id=rng.randrange(60_000_000_000, 70_000_000_000),
    )
