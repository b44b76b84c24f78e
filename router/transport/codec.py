"""The wire format of a raw message on any transport: one JSON object.

``{"id", "tenant", "instance", "event", "received_at", "headers", "traceparent", "body"}`` where
``body`` is the vendor's payload as text (the ingress only accepts UTF-8 JSON bodies, so nothing is
lost) and ``id`` is the ingress's UUIDv7 for the message, stable across redeliveries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from router.errors import MalformedMessageError
from router.ports import RawMessage

__all__ = ["decode_raw", "encode_raw"]


def encode_raw(raw: RawMessage) -> bytes:
    return orjson.dumps(
        {
            "id": raw.id,
            "tenant": raw.tenant,
            "instance": raw.instance,
            "event": raw.event,
            "received_at": raw.received_at.isoformat(),
            "headers": dict(raw.headers),
            "traceparent": raw.traceparent,
            "body": raw.body.decode("utf-8"),
        }
    )


def decode_raw(data: bytes | str | dict[str, Any], attempt: int = 1) -> RawMessage:
    """Decode a transport entry; a corrupt entry raises :class:`MalformedMessageError`."""
    try:
        fields = data if isinstance(data, dict) else orjson.loads(data)
        return RawMessage(
            id=str(fields["id"]),
            tenant=str(fields["tenant"]),
            instance=str(fields["instance"]),
            event=str(fields["event"]),
            body=str(fields["body"]).encode("utf-8"),
            received_at=datetime.fromisoformat(fields["received_at"]),
            headers=dict(fields.get("headers") or {}),
            traceparent=fields.get("traceparent"),
            attempt=attempt,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedMessageError(f"corrupt transport entry: {exc}") from exc
