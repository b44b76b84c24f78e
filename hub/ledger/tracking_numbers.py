"""Whether a tracking number is well formed for its carrier (a pure function).

A 3PL that types a tracking number by hand, or pastes the order number into the field, produces a
shipment that looks complete and can never be tracked; reconciliation catches that here. Only the
published shapes of the carriers the hub meets are checked; an unknown carrier's number must
merely look like a tracking number (letters, digits, 6 to 40 characters).
"""

from __future__ import annotations

import re

__all__ = ["carrier_key", "tracking_problem"]

#: The UPU S10 format every postal operator uses for international items: AA123456789CC.
_S10 = r"[A-Z]{2}\d{9}[A-Z]{2}"
_FORMATS: dict[str, tuple[str, str]] = {
    "ups": (r"1Z[0-9A-Z]{16}|T\d{10}|\d{9}|\d{26}", "1Z + 16 letters or digits"),
    "usps": (rf"9\d{{19,21}}|{_S10}|82\d{{8}}", "20 to 22 digits starting with 9, or S10"),
    "fedex": (r"\d{12}|\d{15}|\d{20}|\d{22}|\d{34}", "12, 15, 20, 22 or 34 digits"),
    "dhl": (r"\d{10,11}|JJD\d{18}|JVGL\d{12}|GM\d{16,18}|LX\d{9}[A-Z]{2}", "10 or 11 digits"),
    "dhlexpress": (r"\d{10,11}|JJD\d{18}", "10 or 11 digits"),
    "canadapost": (rf"\d{{12}}|\d{{16}}|{_S10}", "12 or 16 digits, or S10"),
    "royalmail": (rf"{_S10}|[A-Z]{{2}}\d{{7}}[A-Z]{{2}}", "S10 (AA123456789GB)"),
}
_ALIASES = {
    "unitedparcelservice": "ups",
    "unitedstatespostalservice": "usps",
    "federalexpress": "fedex",
    "fedexground": "fedex",
    "dhlecommerce": "dhl",
}
_GENERIC = re.compile(r"[A-Z0-9-]{6,40}")
_COMPILED = {name: re.compile(pattern) for name, (pattern, _) in _FORMATS.items()}


def carrier_key(carrier: str) -> str:
    """A carrier's name as vendors spell it ("UPS", "FedEx", "dhl_express") reduced to one key."""
    key = re.sub(r"[^a-z0-9]", "", carrier.lower())
    return _ALIASES.get(key, key)


def tracking_problem(number: str, carrier: str | None) -> str | None:
    """Why ``number`` is not a well-formed tracking number of ``carrier``, or None if it is."""
    compact = re.sub(r"[\s]", "", number).upper()
    if carrier is not None:
        key = carrier_key(carrier)
        pattern = _COMPILED.get(key)
        if pattern is not None:
            if pattern.fullmatch(compact):
                return None
            return f"{number!r} is not a {carrier} tracking number ({_FORMATS[key][1]})"
    if _GENERIC.fullmatch(compact):
        return None
    return f"{number!r} does not look like a tracking number (6 to 40 letters or digits)"
