"""Finding connectors: the built-ins plus any package exposing the ``commerce_hub.connectors`` group.

A third-party package adds a connector without changing the hub::

    [project.entry-points."commerce_hub.connectors"]
    mycarrier = "mycarrier_connector:MyCarrierConnector"

The entry point's name must equal the connector's ``name``; two different classes claiming one
name is a :class:`~connectors.errors.DuplicateConnectorError` (silently picking one would route a
tenant's orders through the wrong code).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Final

from connectors.base import Connector
from connectors.errors import (
    ConnectorConfigError,
    DuplicateConnectorError,
    UnknownConnectorError,
)

__all__ = ["BUILTINS", "ENTRY_POINT_GROUP", "discover", "get_connector"]

ENTRY_POINT_GROUP: Final = "commerce_hub.connectors"

#: Connectors shipped with the hub: found even when the package metadata is not installed.
BUILTINS: Final[dict[str, str]] = {
    "shopify": "connectors.shopify.connector:ShopifyConnector",
    "stripe": "connectors.stripe.connector:StripeConnector",
    "easypost": "connectors.easypost.connector:EasyPostConnector",
    "woocommerce": "connectors.woocommerce.connector:WooCommerceConnector",
    "amazon": "connectors.amazon.connector:AmazonConnector",
    "avalara": "connectors.avalara.connector:AvalaraConnector",
    "shipbob": "connectors.shipbob.connector:ShipBobConnector",
}


def _load(target: str) -> type[Connector]:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    loaded = getattr(module, attribute)
    if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
        raise ConnectorConfigError(f"{target} is not a Connector subclass")
    return loaded


def _add(found: dict[str, type[Connector]], name: str, cls: type[Connector], origin: str) -> None:
    if cls.name != name:
        raise ConnectorConfigError(
            f"{origin} registers {cls.__name__} as {name!r}, but the connector is named "
            f"{cls.name!r}; the names must match"
        )
    existing = found.get(name)
    if existing is not None and existing is not cls:
        raise DuplicateConnectorError(
            f"two connectors claim the name {name!r}: "
            f"{existing.__module__}.{existing.__qualname__} and {cls.__module__}.{cls.__qualname__}"
        )
    found[name] = cls


def discover(*, include_entry_points: bool = True) -> dict[str, type[Connector]]:
    """Every available connector by name: built-ins first, then installed entry points."""
    found: dict[str, type[Connector]] = {}
    for name, target in BUILTINS.items():
        _add(found, name, _load(target), f"built-in {target}")
    if include_entry_points:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            cls = point.load()
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise ConnectorConfigError(
                    f"entry point {point.name} = {point.value} is not a Connector subclass"
                )
            _add(found, point.name, cls, f"entry point {point.value}")
    return dict(sorted(found.items()))


def get_connector(name: str) -> type[Connector]:
    """The connector class named ``name``; raises UnknownConnectorError listing the known ones."""
    found = discover()
    try:
        return found[name]
    except KeyError:
        known = ", ".join(found) or "none"
        raise UnknownConnectorError(f"unknown connector {name!r}; available: {known}") from None
