"""Amazon Selling Partner API marketplace connector (Orders v0, notifications, Listings)."""

from connectors.amazon.connector import AmazonConfig, AmazonConnector

__all__ = ["AmazonConfig", "AmazonConnector"]
