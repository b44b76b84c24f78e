"""Resolving secret references: ``env:NAME`` from the environment, ``file:/path`` from a file.

A value never lives in the deployment file, so the file can be committed and reviewed. Resolution
happens once at start-up (and in ``hub validate``, to report missing secrets before a deploy); the
resolved values go straight into the connector's ``SecretStr`` fields and are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["MissingSecretError", "resolve_reference"]


class MissingSecretError(LookupError):
    """A referenced secret is not available; the message names the reference, never a value."""


def resolve_reference(reference: str, environ: Mapping[str, str] | None = None) -> str:
    """The value behind ``reference``; raises :class:`MissingSecretError` saying what is missing."""
    environ = os.environ if environ is None else environ
    scheme, _, target = reference.partition(":")
    if scheme == "env":
        value = environ.get(target)
        if not value:
            raise MissingSecretError(f"environment variable {target} is not set")
        return value
    if scheme == "file":
        path = Path(target)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MissingSecretError(
                f"secrets file {target} cannot be read ({exc.strerror})"
            ) from None
        if not value:
            raise MissingSecretError(f"secrets file {target} is empty")
        return value
    raise MissingSecretError(
        f"{reference!r} is not a secret reference (use env:NAME or file:/path)"
    )
