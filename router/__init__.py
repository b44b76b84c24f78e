"""The routing core: governance, idempotency, retry, dead-lettering and audit.

The router imports :mod:`canonical` only; the hub wires concrete stores and transports into it.
"""
