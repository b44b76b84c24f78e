"""Secrets: values that must never reach a repr, a log line, an error message or an audit record.

Configuration models declare credentials as :class:`pydantic.SecretStr`, whose ``repr`` and ``str``
print ``**********``. Code that really needs the value calls :func:`reveal` at the last moment (to
compute an HMAC, to set an ``Authorization`` header), which makes every place a secret is unwrapped
easy to find with ``grep``. :func:`secret_values` lists every secret of a config, which the
conformance kit uses to prove none leaks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = ["SecretStr", "redact_secrets", "reveal", "secret_values"]

_MASK = "**********"


def reveal(secret: SecretStr | str) -> str:
    """The plain value of ``secret`` (plain strings pass through, e.g. in tests)."""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, SecretBytes):
        yield value.get_secret_value().decode("utf-8", "replace")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item)


def secret_values(config: BaseModel) -> list[str]:
    """Every secret value held by ``config`` (nested models and lists included), non-empty only."""
    return [value for value in _walk(config) if value]


def redact_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of each secret replaced by a mask (belt and braces)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, _MASK)
    return text
