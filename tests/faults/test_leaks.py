"""No secret and no personal data leaks into logs, spans, the audit log, listings or errors.

``test_secrets_and_personal_data_stay_out_of_every_operator_surface`` runs ``hub run`` end to end
(:func:`tests.support.serving`, embedded SQLite ledger) with known secrets: the Shopify webhook
secret and access token, an operator admin token and the bootstrap ``HUB_ADMIN_TOKEN``; and orders
carrying a known customer (name, email, phone, street address). Traffic: a genuine order (applied,
its stock pushed to a vendor on loopback, which refuses one SKU's push with 422: an outbound dead
letter), an order whose customer email is malformed (a translation dead letter, then replayed
through the admin API and dead-lettered again), an order for an unknown SKU (held as an
exception), the same order under a forged signature (401), a delivery with a body that is not JSON
(400), and admin calls with a wrong token (401).

Everything an operator or a collector can see is gathered: every log record of every logger at
DEBUG (``caplog``, message and traceback) and all that the process wrote to stdout and stderr; every
finished span (name, attributes, events, status) from the in-memory exporter; every audit record
(all columns); the dead-letter listings of ``hub dlq list --json``, ``hub dlq list`` and
``hub dlq show`` (without ``--body``) and of the admin API (list and one letter); the held
messages (``hub review list --json``, admin API); ``hub trace`` of each message; ``/metrics``; and
every error answer (the 400/401 bodies, the replay's answer). Pass criteria: none of it contains
any of the secrets or any of the customer's personal data (exact text, case-insensitive); and, as a
control that the scan can see them, the dead letter's payload (``hub dlq show --body``, a privileged
read) does contain the customer's email.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from connectors.webhooks import HmacBodyVerifier
from hub.cli import app
from hub.runtime import HubRuntime
from tests.faults.hubkit import INVENTORY_ITEMS, open_outbound_hub, order_body
from tests.faults.streaming import wait_until
from tests.faults.vendor import FakeShopify
from tests.support import serving

SECRETS = {
    "SHOPIFY_TOKEN": "shpat_LEAKCHECK_access_5c1e9b0d",
    "SHOPIFY_SECRET": "shpss_LEAKCHECK_webhook_7f3a9e21",
    "OPS_TOKEN": "ops_LEAKCHECK_admin_2b8d44f6",
    "HUB_ADMIN_TOKEN": "adm_LEAKCHECK_bootstrap_91c0aa3e",
}
PERSONAL = {
    "jane@example.com": "zelda.quixotic@leakcheck.example",
    "Jane Doe": "Zelda Quixotic",
    "Jane": "Zelda",
    "Doe": "Quixotic",
    "123 Main Street": "742 Evergreen Terrace",
    "Apt 4": "Suite 9Q",
    "+1 518 555 0100": "+1 518 555 0142",
}
NEEDLES = [*SECRETS.values(), *PERSONAL.values()]


def _customer_order(order_id: int, **changes: Any) -> bytes:
    """The fixture order with the known customer in every personal field."""
    text = json.dumps(order_body(order_id))
    for fixture, known in PERSONAL.items():
        text = text.replace(json.dumps(fixture), json.dumps(known))
    order = json.loads(text)
    for key, value in changes.items():
        order[key] = value
    assert "742 Evergreen Terrace" in json.dumps(order)
    return json.dumps(order).encode()


def _signed(body: bytes, secret: str = SECRETS["SHOPIFY_SECRET"]) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        **HmacBodyVerifier("X-Shopify-Hmac-Sha256", encoding="base64").sign(body, secret),
    }


def _span_text(span: Any) -> str:
    return span.to_json()  # name, attributes, events (with their attributes), status, links


def _leaks(where: str, text: str) -> list[str]:
    lowered = text.lower()
    return [f"{where}: {needle!r}" for needle in NEEDLES if needle.lower() in lowered]


def _hub(*args: str, ledger: str) -> str:
    """A ``hub`` command as an operator runs it (in process, none of the secrets in its env)."""
    result = CliRunner().invoke(app, [*args, "--ledger", ledger], env=dict.fromkeys(SECRETS))
    assert result.exit_code == 0, result.output
    return result.output


async def test_secrets_and_personal_data_stay_out_of_every_operator_surface(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    spans: Any,
) -> None:
    """Pass criteria: see the module docstring."""
    caplog.set_level(logging.DEBUG)
    ledger = str(tmp_path / "ledger.sqlite3")
    environ = dict(SECRETS)
    surfaces: dict[str, str] = {}
    mug = int(INVENTORY_ITEMS["MUG-WHITE"])
    with FakeShopify(refuse_items={mug}) as vendor:
        runtime: HubRuntime = open_outbound_hub(
            ledger,
            stock={"TSHIRT-RED-M": 10, "MUG-WHITE": 10},
            settings={"api_base": vendor.origin},
            environ=environ,
            extra={
                "admin": {
                    "tokens": [
                        {
                            "name": "ops",
                            "token": "env:OPS_TOKEN",
                            "role": "operator",
                            "tenants": ["acme"],
                        }
                    ]
                }
            },
        )
        try:
            async with serving(runtime, environ) as url, httpx.AsyncClient(base_url=url) as client:
                ops = {"authorization": f"Bearer {SECRETS['OPS_TOKEN']}"}
                genuine = _customer_order(9301)
                malformed_email = _customer_order(
                    9302, email="Zelda Quixotic <zelda.quixotic@leakcheck.example>"
                )
                unknown_sku = json.loads(_customer_order(9303))
                unknown_sku["line_items"][0]["sku"] = "NO-SUCH-SKU"
                unknown = json.dumps(unknown_sku).encode()
                sent: dict[str, str] = {}
                for name, body in {
                    "genuine": genuine,
                    "malformed email": malformed_email,
                    "unknown sku": unknown,
                }.items():
                    answer = await client.post(
                        "/webhooks/acme/shopify_us", content=body, headers=_signed(body)
                    )
                    assert answer.status_code == 200, (name, answer.text)
                    sent[name] = answer.json()["id"]
                forged = await client.post(
                    "/webhooks/acme/shopify_us",
                    content=genuine,
                    headers=_signed(genuine, secret=SECRETS["SHOPIFY_SECRET"][::-1]),
                )
                assert forged.status_code == 401
                not_json = b"name=Zelda Quixotic&email=zelda.quixotic@leakcheck.example"
                garbled = await client.post(
                    "/webhooks/acme/shopify_us", content=not_json, headers=_signed(not_json)
                )
                assert garbled.status_code == 400
                surfaces["refusals"] = forged.text + garbled.text

                await wait_until(
                    lambda: (
                        len(runtime.operations.dead_letters(tenant="acme")) >= 2
                        and runtime.ledger.processed_count() >= 3
                        and len(runtime.operations.held(tenant="acme")) >= 1
                    ),
                    30,
                    "the dead letters, the applied order and the held one",
                )
                for token in ("wrong", SECRETS["SHOPIFY_TOKEN"], SECRETS["OPS_TOKEN"] + "x"):
                    refused = await client.get(
                        "/admin/v1/tenants/acme/dead-letters",
                        headers={"authorization": f"Bearer {token}"},
                    )
                    assert refused.status_code == 401
                    surfaces[f"admin refusal {token[:5]}"] = refused.text
                letters = await client.get("/admin/v1/tenants/acme/dead-letters", headers=ops)
                assert letters.status_code == 200
                surfaces["admin dead letters"] = letters.text
                inbound = [d for d in letters.json() if d["stage"] != "outbound"]
                assert inbound, letters.json()
                for letter in letters.json():
                    one = await client.get(
                        f"/admin/v1/tenants/acme/dead-letters/{letter['id']}", headers=ops
                    )
                    surfaces[f"admin dead letter {letter['id']}"] = one.text
                replay = await client.post(
                    f"/admin/v1/tenants/acme/dead-letters/{inbound[0]['id']}/replay", headers=ops
                )
                assert replay.status_code == 200
                surfaces["admin replay"] = replay.text
                held = await client.get("/admin/v1/tenants/acme/held", headers=ops)
                surfaces["admin held"] = held.text
                for name, message_id in sent.items():
                    trail = await client.get(
                        f"/admin/v1/tenants/acme/messages/{message_id}/audit", headers=ops
                    )
                    surfaces[f"admin audit {name}"] = trail.text
                surfaces["metrics"] = (await client.get("/metrics")).text
                await asyncio.sleep(0.5)
        finally:
            runtime.close()
        _, calls = vendor.snapshot()
    assert any(c.status == 422 for c in calls)  # the outbound dead letter happened

    surfaces["metrics registry"] = generate_latest().decode()
    surfaces["dlq list --json"] = _hub("dlq", "list", "--json", "--all", ledger=ledger)
    surfaces["dlq list"] = _hub("dlq", "list", "--all", ledger=ledger)
    letter_ids = [str(d["id"]) for d in json.loads(surfaces["dlq list --json"])]
    assert len(letter_ids) >= 2
    for letter_id in letter_ids:
        surfaces[f"dlq show {letter_id}"] = _hub("dlq", "show", letter_id, ledger=ledger)
    surfaces["review list --json"] = _hub("review", "list", "--json", ledger=ledger)
    for name, message_id in sent.items():
        surfaces[f"trace {name}"] = _hub("trace", message_id, ledger=ledger)

    import sqlite3

    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT * FROM audit_log").fetchall()
    assert rows
    surfaces["audit log"] = "\n".join(map(str, rows))

    formatter = logging.Formatter()
    surfaces["logs"] = "\n".join(
        record.getMessage()
        + (formatter.formatException(record.exc_info) if record.exc_info else "")
        + (record.exc_text or "")
        for record in caplog.records
    )
    assert caplog.records  # there was something to read
    out, err = capfd.readouterr()
    surfaces["stdout and stderr"] = out + err
    finished = spans.get_finished_spans()
    assert finished
    surfaces["spans"] = "\n".join(_span_text(span) for span in finished)

    leaks = [leak for where, text in surfaces.items() for leak in _leaks(where, text)]
    assert leaks == []

    # controls: the scan would see them where they legitimately are
    body = _hub("dlq", "show", letter_ids[0], "--body", ledger=ledger) + "".join(
        _hub("dlq", "show", i, "--body", ledger=ledger) for i in letter_ids[1:]
    )
    assert "zelda.quixotic@leakcheck.example" in body
