"""The hub runtime: configuration, the ERP ledger, ingress, workers, the CLI and observability.

This is the only package that wires concrete pieces (connectors, router, stores, transports)
together.
"""

__version__ = "0.1.0"
