"""The hub's EasyPost webhook verification agrees with EasyPost's own SDK on a delivery matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.easypost import EasyPostConnector
from connectors.errors import WebhookVerificationError

easypost_util = pytest.importorskip("easypost.util")
easypost_errors = pytest.importorskip("easypost.errors")

BODY = (Path(__file__).parent / "fixtures" / "tracker_updated_delivered.json").read_bytes()
SECRET = "sécret"  # not NFKD-normal: EasyPost normalises it before keying the HMAC
OTHER = "another-secret"


def _sign(body: bytes, secret: str) -> str:
    return EasyPostConnector.webhook_verifier.sign(body, secret)["X-Hmac-Signature"]


MATRIX = [
    ("genuine", BODY, _sign(BODY, SECRET), True),
    ("genuine, key signed in NFD form", BODY, _sign(BODY, "se\u0301cret"), True),
    ("tampered body", BODY.replace(b"delivered", b"returned_"), _sign(BODY, SECRET), False),
    ("re-keyed", BODY, _sign(BODY, OTHER), False),
    ("hex without prefix", BODY, _sign(BODY, SECRET).removeprefix("hmac-sha256-hex="), False),
    ("upper-case hex", BODY, _sign(BODY, SECRET).upper(), False),
]


@pytest.mark.parametrize(("name", "body", "header", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_hub_and_easypost_sdk_agree(name: str, body: bytes, header: str, expected: bool) -> None:
    try:
        easypost_util.validate_webhook(body, {"X-Hmac-Signature": header}, SECRET)
        sdk_accepts = True
    except easypost_errors.SignatureVerificationError:
        sdk_accepts = False
    connector = EasyPostConnector({"api_key": "EZTKx", "webhook_secrets": [SECRET]})
    try:
        connector.verify_webhook({"X-Hmac-Signature": header}, body)
        hub_accepts = True
    except WebhookVerificationError:
        hub_accepts = False
    assert hub_accepts == sdk_accepts == expected, name


def test_missing_header_refused_by_both() -> None:
    with pytest.raises(easypost_errors.SignatureVerificationError):
        easypost_util.validate_webhook(BODY, {}, SECRET)
    connector = EasyPostConnector({"api_key": "EZTKx", "webhook_secrets": [SECRET]})
    with pytest.raises(WebhookVerificationError):
        connector.verify_webhook({}, BODY)
