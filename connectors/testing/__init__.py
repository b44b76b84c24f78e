"""The connector conformance kit: a base test class plus the rules it checks.

Subclass :class:`ConnectorConformance` in a connector's tests (see its docstring); the rules are
plain functions in :mod:`connectors.testing.checks` and :mod:`connectors.testing.behaviours`, each
raising :class:`ConformanceFailure` when a connector breaks it. The kit needs pytest and respx
(the project's ``dev`` extra).
"""

from connectors.testing.behaviours import BEHAVIOURS, run_behaviour
from connectors.testing.checks import (
    RECEIVED_AT,
    AvailabilityCase,
    ConformanceFailure,
    OutboundCase,
    PaginationCase,
    Sample,
    check_cancel_fulfillment,
    check_config_schema,
    check_declaration,
    check_idempotency,
    check_outbound_retries,
    check_pagination,
    check_push_availability,
    check_sample_translates,
    check_secrets_hidden,
    check_webhook_signatures,
    default_context,
)
from connectors.testing.suite import ConnectorConformance, samples_from

__all__ = [
    "BEHAVIOURS",
    "RECEIVED_AT",
    "AvailabilityCase",
    "ConformanceFailure",
    "ConnectorConformance",
    "OutboundCase",
    "PaginationCase",
    "Sample",
    "check_cancel_fulfillment",
    "check_config_schema",
    "check_declaration",
    "check_idempotency",
    "check_outbound_retries",
    "check_pagination",
    "check_push_availability",
    "check_sample_translates",
    "check_secrets_hidden",
    "check_webhook_signatures",
    "default_context",
    "run_behaviour",
    "samples_from",
]
