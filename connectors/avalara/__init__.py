"""Avalara AvaTax tax connector (CreateTransaction quotes and commits)."""

from connectors.avalara.connector import AvalaraConfig, AvalaraConnector

__all__ = ["AvalaraConfig", "AvalaraConnector"]
