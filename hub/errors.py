"""Errors of the hub runtime, grouped by what an operator should do about them.

``HubError`` is the root. ``ConfigurationError`` means a file, flag or environment setting is wrong:
fix it and run again; the message says what and where.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub runtime raises on purpose."""


class ConfigurationError(HubError):
    """Something the operator configured is wrong; the message says what and how to fix it."""
