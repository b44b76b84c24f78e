"""``hub deploy``: send a deployment file to a running hub, list versions, roll back."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

__all__ = ["deploy"]

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def deploy(
    file: Annotated[Path | None, typer.Argument(help="The deployment file to deploy.")] = None,
    hub: Annotated[
        str, typer.Option("--hub", help="The running hub's base URL.")
    ] = "http://127.0.0.1:8000",
    token_env: Annotated[
        str, typer.Option("--token-env", help="Environment variable holding an admin token.")
    ] = "HUB_ADMIN_TOKEN",  # noqa: S107 - the name of a variable, not a token
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Return to the previous version.")
    ] = False,
    history: Annotated[bool, typer.Option("--list", help="List deployed versions.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Deploy a validated configuration to a running hub (or roll back, or list versions)."""
    token = os.environ.get(token_env)
    if not token:
        errors.print(f"set {token_env} to an admin token of the hub")
        raise typer.Exit(2)
    headers = {"authorization": f"Bearer {token}"}
    base = hub.rstrip("/") + "/admin/v1/deployments"
    try:
        with httpx.Client(timeout=30) as client:
            if history:
                response = client.get(base, headers=headers)
            elif rollback:
                response = client.post(base + "/rollback", headers=headers)
            elif file is not None:
                response = client.post(
                    base,
                    headers=headers | {"content-type": "application/yaml"},
                    content=file.read_bytes(),
                )
            else:
                errors.print("name a file to deploy, or use --rollback or --list")
                raise typer.Exit(2)
    except httpx.TransportError as exc:
        errors.print(f"cannot reach the hub at {hub}: {exc}")
        raise typer.Exit(1) from None
    body = response.json()
    if as_json:
        sys.stdout.write(json.dumps(body) + "\n")
    if response.status_code >= 400:
        if not as_json:
            errors.print(f"refused ({response.status_code}): {body.get('error')}")
            for problem in body.get("problems", []):
                errors.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(1)
    if as_json:
        return
    if history:
        table = Table("id", "active", "deployed at", "by", "digest", "note")
        for row in body:
            table.add_row(
                str(row["id"]),
                "*" if row["active"] else "",
                row["deployed_at"],
                row["deployed_by"],
                row["digest"][:12],
                row["note"] or "",
            )
        console.print(table)
    else:
        console.print(
            f"deployment {body['id']} active ({body['digest'][:12]}), by {body['deployed_by']}"
        )
