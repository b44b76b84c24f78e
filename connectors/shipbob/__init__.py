"""ShipBob 3PL connector (fulfilment orders and shipment webhooks)."""

from connectors.shipbob.connector import ShipBobConfig, ShipBobConnector

__all__ = ["ShipBobConfig", "ShipBobConnector"]
