"""Stripe payment connector (webhook events and refunds)."""

from connectors.stripe.connector import StripeConfig, StripeConnector

__all__ = ["StripeConfig", "StripeConnector"]
