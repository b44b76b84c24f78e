"""EasyPost carrier connector (tracker webhooks and label purchase)."""

from connectors.easypost.connector import EasyPostConfig, EasyPostConnector

__all__ = ["EasyPostConfig", "EasyPostConnector"]
