"""Operator commands on a real ledger: dead letters, held messages, traces, the audit chain."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.config.model import Deployment
from hub.runtime import HubRuntime, embedded_inbox_path, open_runtime
from router.ports import RawMessage
from router.transport.inbox import SqliteInbox
from tests.support import SHOPIFY_ORDER, acme_tenant, paid_order, receipt

ENV = {"SHOPIFY_TOKEN": "shpat_test", "SHOPIFY_SECRET": "secret"}
runner = CliRunner()


def _raw(raw_id: str, body: bytes, event: str = "orders/create") -> RawMessage:
    return RawMessage(
        id=raw_id,
        tenant="acme",
        instance="shopify_us",
        event=event,
        body=body,
        received_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[HubRuntime, str, Path]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    ledger_url = str(tmp_path / "ledger.sqlite3")
    config = tmp_path / "deploy.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "tenants": {"acme": acme_tenant()}}))
    deployment = Deployment.model_validate({"tenants": {"acme": acme_tenant()}})
    runtime = open_runtime(deployment, ledger_url=ledger_url, auto_migrate=True)
    runtime.ledger.upsert_sku("acme", "TSHIRT-RED-M")
    runtime.ledger.apply([receipt("TSHIRT-RED-M", 10)])
    runtime.catalog.reload()
    return runtime, ledger_url, config


def _json(args: list[str]) -> object:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_malformed_message_is_listed_and_replayed_after_the_fix(
    hub: tuple[HubRuntime, str, Path],
) -> None:
    runtime, ledger, config = hub
    body = json.dumps(paid_order()).encode()
    [result] = asyncio.run(runtime.router.process([_raw("r1", body, event="orders/created-typo")]))
    assert result.terminal
    [letter] = _json(["dlq", "list", "--ledger", ledger, "--json"])  # type: ignore[misc]
    assert letter["stage"] == "translate"
    assert "orders/created-typo" in letter["reason"]
    shown = _json(["dlq", "show", str(letter["id"]), "--ledger", ledger, "--json"])
    assert shown["errors"]  # type: ignore[index]

    # the fix: the message was really an orders/create; correct the stored event and replay
    runtime.operations._db.execute(
        "UPDATE dead_letters SET raw = replace(raw, 'orders/created-typo', 'orders/create')"
    )
    runtime.ledger.upsert_sku("acme", "MUG-WHITE")
    replayed = _json(
        ["dlq", "replay", str(letter["id"]), "--config", str(config), "--ledger", ledger, "--json"]
    )
    assert replayed == [{"id": letter["id"], "outcome": "applied"}]
    assert _json(["dlq", "list", "--ledger", ledger, "--json"]) == []
    again = _json(
        ["dlq", "replay", str(letter["id"]), "--config", str(config), "--ledger", ledger, "--json"]
    )
    assert again == [{"id": letter["id"], "outcome": "duplicate"}]


def test_a_dead_letter_handled_outside_the_hub_is_resolved_with_a_note(
    hub: tuple[HubRuntime, str, Path],
) -> None:
    runtime, ledger, config = hub
    body = json.dumps(paid_order()).encode()
    asyncio.run(
        runtime.router.process(
            [_raw("r1", body, event="orders/created-typo"), _raw("r2", b"{}", event="no/such")]
        )
    )
    first, second = _json(["dlq", "list", "--ledger", ledger, "--json"])  # type: ignore[misc]
    refused = runner.invoke(app, ["dlq", "resolve", str(first["id"]), "--ledger", ledger])
    assert refused.exit_code == 2
    assert "--note is required" in refused.stderr
    missing = runner.invoke(
        app, ["dlq", "resolve", str(first["id"]), "999999", "--note", "x", "--ledger", ledger]
    )
    assert missing.exit_code == 1
    assert "no dead letter 999999" in missing.stderr
    assert len(_json(["dlq", "list", "--ledger", ledger, "--json"])) == 2  # type: ignore[arg-type]

    resolved = _json(
        ["dlq", "resolve", str(first["id"]), "--note", "test shop webhook",
         "--actor", "ops@acme", "--ledger", ledger, "--json"]
    )  # fmt: skip
    assert resolved == [
        first | {
            "status": "resolved",
            "resolved_at": resolved[0]["resolved_at"],  # type: ignore[index]
            "resolved_by": "ops@acme",
            "resolution_note": "test shop webhook",
        }
    ]  # fmt: skip
    assert [r["id"] for r in _json(["dlq", "list", "--ledger", ledger, "--json"])] == [  # type: ignore[attr-defined]
        second["id"]
    ]
    by_status = _json(["dlq", "list", "--status", "resolved", "--ledger", ledger, "--json"])
    assert [r["id"] for r in by_status] == [first["id"]]  # type: ignore[attr-defined]
    assert len(_json(["dlq", "list", "--all", "--ledger", ledger, "--json"])) == 2  # type: ignore[arg-type]
    table = runner.invoke(app, ["dlq", "list", "--status", "all", "--ledger", ledger])
    assert "resolved" in table.stdout
    shown = runner.invoke(app, ["dlq", "show", str(first["id"]), "--ledger", ledger])
    assert "resolved_by: ops@acme" in shown.stdout
    assert "resolution_note: test shop webhook" in shown.stdout
    trace = _json(["trace", "r1", "--tenant", "acme", "--ledger", ledger, "--json"])
    assert ("translate", "resolved", "ops@acme", "test shop webhook") in {
        (s["stage"], s["outcome"], s["actor"], s["reason"])
        for s in trace["stages"]  # type: ignore[index]
    }
    assert _json(["audit", "verify", "--ledger", ledger, "--json"])["intact"]  # type: ignore[index]

    again = runner.invoke(
        app, ["dlq", "resolve", str(first["id"]), "--note", "again", "--ledger", ledger]
    )
    assert again.exit_code == 1
    assert "already resolved by ops@acme" in again.stderr
    replay = ["dlq", "replay", str(first["id"]), "--config", str(config), "--ledger", ledger]
    not_replayed = runner.invoke(app, replay)
    assert not_replayed.exit_code == 1
    assert "--force" in not_replayed.stderr
    assert (
        _json(["dlq", "show", str(first["id"]), "--ledger", ledger, "--json"])["replay_count"] == 0
    )  # type: ignore[index]
    forced = _json([*replay, "--force", "--json"])
    assert forced == [{"id": first["id"], "outcome": "dead_lettered"}]

    # --all with filters resolves the open ones that match, under the default actor
    rest = _json(
        ["dlq", "resolve", "--all", "--reason", "no/such", "--note", "vendor refused",
         "--ledger", ledger, "--json"]
    )  # fmt: skip
    assert [r["id"] for r in rest] == [second["id"]]  # type: ignore[attr-defined]
    assert rest[0]["resolved_by"].startswith("cli:")  # type: ignore[index]


def test_review_approve_resumes_and_reject_closes(hub: tuple[HubRuntime, str, Path]) -> None:
    runtime, ledger, config = hub
    runtime.ledger.upsert_sku("acme", "MUG-WHITE")
    runtime.catalog.reload()
    pending = paid_order(1001)
    pending["financial_status"] = "pending"  # the payment rule sends it to review
    other = paid_order(1002)
    other["financial_status"] = "pending"
    asyncio.run(
        runtime.router.process(
            [_raw("p1", json.dumps(pending).encode()), _raw("p2", json.dumps(other).encode())]
        )
    )
    held = _json(["review", "list", "--ledger", ledger, "--json"])
    assert [(h["queue"], h["rule"]) for h in held] == [("review", "payment")] * 2  # type: ignore[index]
    first, second = (h["id"] for h in held)  # type: ignore[union-attr]
    result = runner.invoke(
        app,
        [
            "review",
            "approve",
            str(first),
            "--actor",
            "ops@acme",
            "--config",
            str(config),
            "--ledger",
            ledger,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "applied" in result.output
    result = runner.invoke(
        app, ["review", "reject", str(second), "--actor", "ops@acme", "--ledger", ledger]
    )
    assert result.exit_code == 0, result.output
    assert _json(["review", "list", "--ledger", ledger, "--json"]) == []
    order = runtime.ledger.order("shopify_us:1001", tenant="acme")
    assert order is not None
    assert runtime.ledger.order("shopify_us:1002", tenant="acme") is None
    trail = runtime.operations.audit_trail("acme", order_key="shopify_us:1002")
    assert [(r.outcome, r.actor) for r in trail if r.actor] == [("rejected", "ops@acme")]


def test_trace_shows_the_stages_and_the_audit_chain_verifies(
    hub: tuple[HubRuntime, str, Path],
) -> None:
    runtime, ledger, _ = hub
    asyncio.run(runtime.router.process([_raw("t1", SHOPIFY_ORDER.read_bytes())]))
    trace = _json(["trace", "t1", "--ledger", ledger, "--json"])
    stages = [(s["stage"], s["outcome"]) for s in trace["stages"]]  # type: ignore[index]
    assert stages == [("translate", "ok"), ("govern", "exception")]
    human = runner.invoke(app, ["trace", "t1", "--ledger", ledger])
    assert "govern" in human.output
    assert "master_data" in human.output
    assert runner.invoke(app, ["trace", "nope", "--ledger", ledger]).exit_code == 1

    verified = _json(["audit", "verify", "--ledger", ledger, "--json"])
    assert verified == {"intact": True, "problems": {"acme": []}}
    runtime.operations._db.execute("UPDATE audit_log SET outcome = 'pass' WHERE stage = 'govern'")
    result = runner.invoke(app, ["audit", "verify", "--ledger", ledger])
    assert result.exit_code == 1
    assert "content does not match its hash" in result.output


def test_ingest_pushes_payloads_through_the_pipeline(
    hub: tuple[HubRuntime, str, Path], tmp_path: Path
) -> None:
    runtime, ledger, config = hub
    runtime.ledger.upsert_sku("acme", "MUG-WHITE")
    order = tmp_path / "order.json"
    order.write_text(json.dumps(paid_order(5151)))
    common = [
        "--tenant",
        "acme",
        "--instance",
        "shopify_us",
        "--config",
        str(config),
        "--ledger",
        ledger,
    ]
    rows = _json(["ingest", str(order), "--event", "orders/create", "--process", "--json", *common])
    assert [row["outcome"] for row in rows] == ["applied"]  # type: ignore[index,union-attr]
    assert runtime.ledger.order("shopify_us:5151", tenant="acme") is not None
    queued = _json(["ingest", str(order), "--event", "orders/create", "--json", *common])
    assert [row["outcome"] for row in queued] == ["queued"]  # type: ignore[index,union-attr]
    inbox = SqliteInbox(embedded_inbox_path(ledger))
    assert inbox.stats().pending == 1
    inbox.close()
    bad = runner.invoke(
        app, ["ingest", str(order), "--tenant", "acme", "--instance", "nope", "--ledger", ledger]
    )
    assert bad.exit_code == 2
