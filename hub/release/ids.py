"""Wave and request ids: deterministic, so running the same wave twice asks nothing twice.

A request id is ``release/<location>/<YYYYMMDD>-w<N>/<order key>``: the node, its local day, the
wave's number that day, and the order. The ledger's idempotency key is derived from it, so a
repeated run of the same wave reports ``duplicate`` instead of releasing again, and the ledger's
``order.released`` events say, through the id alone, which day and wave each release belonged to
(what the next plan counts against the daily limits).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

__all__ = ["ParsedRequestId", "parse_request_id", "request_id"]

PREFIX = "release"
_MAX = 255
_WAVE = re.compile(r"^(\d{8})-w(\d+)$")


@dataclass(frozen=True, slots=True)
class ParsedRequestId:
    location: str
    day: date
    wave: int


def request_id(location: str, wave_id: str, order_key: str) -> str:
    """The fulfilment request id of ``order_key`` in wave ``wave_id`` at ``location``."""
    text = f"{PREFIX}/{location}/{wave_id}/{order_key}"
    if len(text) <= _MAX:
        return text
    digest = hashlib.sha256(order_key.encode("utf-8")).hexdigest()[:40]
    return f"{PREFIX}/{location}/{wave_id}/sha256-{digest}"


def parse_request_id(text: str) -> ParsedRequestId | None:
    """The location, day and wave of a request id made by :func:`request_id`; None otherwise."""
    parts = text.split("/", 3)
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    match = _WAVE.match(parts[2])
    if match is None:
        return None
    try:
        day = datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None
    return ParsedRequestId(location=parts[1], day=day, wave=int(match.group(2)))
