"""Connectors: one adapter per vendor, translating vendor payloads to and from the canonical model.

Connectors import :mod:`canonical` only; never :mod:`router` or :mod:`hub`.
"""
