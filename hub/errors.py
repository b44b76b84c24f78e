"""Errors of the hub runtime, grouped by what an operator should do about them.

    HubError
    └── ConfigurationError        a file, flag or environment setting is wrong: fix it and rerun
        └── SchemaDriftError      committed schemas differ from the models: run `hub schema export`
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub runtime raises on purpose."""


class ConfigurationError(HubError):
    """Something the operator configured is wrong; the message says what and how to fix it."""


class SchemaDriftError(ConfigurationError):
    """The committed JSON Schemas do not match the canonical models."""
