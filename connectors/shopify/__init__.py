"""Shopify storefront connector (Admin REST API and webhooks)."""

from connectors.shopify.connector import ShopifyConfig, ShopifyConnector

__all__ = ["ShopifyConfig", "ShopifyConnector"]
