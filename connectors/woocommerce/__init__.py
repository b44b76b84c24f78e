"""WooCommerce storefront connector (REST API v3 and webhooks)."""

from connectors.woocommerce.connector import WooCommerceConfig, WooCommerceConnector

__all__ = ["WooCommerceConfig", "WooCommerceConnector"]
