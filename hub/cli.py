"""The ``hub`` command: one entry point, a group of sub-commands per area.

Each command prints for people by default (rich) and for programs with ``--json``. Exit codes are
part of the interface: 0 success, 1 the input or state is wrong (the message says what), 2 usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from canonical.lifecycle import INITIAL_STATE, TRANSITIONS, OrderState, lifecycle_as_json
from canonical.schemas import PUBLISHED_MODELS, generate_schema
from hub import __version__
from hub.connectors_cli import connectors_app, translate
from hub.demo import demo
from hub.deploy_cli import deploy
from hub.fulfilment_cli import fulfilment_app, lots_app
from hub.ingest_cli import ingest
from hub.ledger.cli import catalog_app, ledger_app, orders_app
from hub.ops_cli import audit_app, dlq_app, review_app, trace
from hub.release.cli import release_app
from hub.replenishment.cli import procurement_app, replenish_app
from hub.run_cli import run
from hub.scale_cli import admin, ingress, worker
from hub.schema_files import ExportReport, check_files, render_json, write_files

app = typer.Typer(
    name="hub",
    help="Commerce Integration Hub: connectors, canonical model, router and ERP ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schema_app = typer.Typer(
    help="The canonical model's published JSON Schemas (schemas/).", no_args_is_help=True
)
app.add_typer(schema_app, name="schema")
app.add_typer(ledger_app, name="ledger")
app.add_typer(orders_app, name="orders")
app.add_typer(catalog_app, name="catalog")
app.add_typer(procurement_app, name="procurement")
app.add_typer(replenish_app, name="replenish")
app.add_typer(connectors_app, name="connectors")
app.command("translate")(translate)

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

SchemasDir = Annotated[
    Path, typer.Option("--dir", help="Folder of the committed schemas.", show_default=True)
]
DocsDir = Annotated[
    Path, typer.Option("--docs-dir", help="Folder of the generated docs.", show_default=True)
]


def _version(value: bool) -> None:
    if value:
        console.print(f"commerce-hub {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Commerce Integration Hub."""


def _print_report(report: ExportReport, *, check: bool) -> None:
    for path, problems in report.breaking.items():
        errors.print(f"[red]breaking[/red] {path}:")
        for problem in problems:
            errors.print(f"  - {problem}")
    if report.breaking:
        errors.print(
            "A published major version may only change compatibly. Bump `schema_major` on the "
            "model to publish a new version; the old file stays as it is."
        )
    for path in report.missing:
        errors.print(f"[red]missing[/red] {path}")
    for path in report.stale:
        if path not in report.breaking:
            errors.print(f"[yellow]out of date[/yellow] {path}")
    if check and (report.missing or report.stale):
        errors.print("Run `hub schema export` and commit the result.")
    for path in report.written:
        console.print(f"wrote {path}")


@schema_app.command("export")
def schema_export(
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the committed files differ."),
    ] = False,
    schemas_dir: SchemasDir = Path("schemas"),
    docs_dir: DocsDir = Path("docs"),
) -> None:
    """Write the JSON Schemas and the lifecycle docs generated from the canonical model."""
    if check:
        report = check_files(schemas_dir, docs_dir)
        _print_report(report, check=True)
        if not report.clean:
            raise typer.Exit(1)
        console.print(f"schemas in {schemas_dir} match the canonical model")
        return
    report = write_files(schemas_dir, docs_dir)
    _print_report(report, check=False)
    if report.breaking:
        raise typer.Exit(1)
    if not report.written:
        console.print("schemas already up to date")


def _model_named(name: str) -> Any:
    for model in PUBLISHED_MODELS:
        if model.schema_name == name:
            return model
    known = ", ".join(str(m.schema_name) for m in PUBLISHED_MODELS)
    errors.print(f"unknown type {name!r}; the published types are: {known}")
    raise typer.Exit(2)


@schema_app.command("list")
def schema_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the published canonical types and their current major versions."""
    rows = [
        {"type": model.schema_name, "version": model.schema_major, "model": model.__name__}
        for model in PUBLISHED_MODELS
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("type", "version", "model")
    for row in rows:
        table.add_row(str(row["type"]), f"v{row['version']}", str(row["model"]))
    console.print(table)


@schema_app.command("show")
def schema_show(name: Annotated[str, typer.Argument(help="A published type, e.g. order.")]) -> None:
    """Print the JSON Schema of one published type."""
    sys.stdout.write(render_json(generate_schema(_model_named(name))))


@schema_app.command("validate")
def schema_validate(
    name: Annotated[str, typer.Argument(help="A published type, e.g. order or envelope.")],
    file: Annotated[Path, typer.Argument(help="A JSON document, or - for standard input.")],
) -> None:
    """Validate a JSON document against a published schema (the contract, with jsonschema)."""
    from jsonschema import Draft202012Validator

    schema = generate_schema(_model_named(name))
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.print(f"{file}: not JSON: {exc}")
        raise typer.Exit(1) from None
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    problems = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    for problem in problems:
        location = "/".join(str(p) for p in problem.absolute_path) or "(document)"
        errors.print(f"{file}: {location}: {problem.message}")
    if problems:
        raise typer.Exit(1)
    console.print(f"{file}: valid {name} v{schema['x-schema-version']}")


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The deployment file (YAML).")],
    check_secrets: Annotated[
        bool,
        typer.Option(
            "--check-secrets/--no-check-secrets",
            help="Also check that every referenced secret is available here.",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
) -> None:
    """Validate a deployment file: exit 0, or 1 with every problem as FILE:LINE:COLUMN: message."""
    from hub.config import validate_text

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        errors.print(f"{file}: cannot read ({exc.strerror})")
        raise typer.Exit(1) from None
    deployment, problems = validate_text(text, filename=str(file), check_secrets=check_secrets)
    if as_json:
        rows = [
            {"file": p.file, "line": p.line, "column": p.column, "message": p.message}
            for p in problems
        ]
        sys.stdout.write(json.dumps({"valid": not problems, "problems": rows}) + "\n")
    else:
        for problem in problems:
            errors.print(str(problem), markup=False, highlight=False)
    if problems or deployment is None:
        raise typer.Exit(1)
    if not as_json:
        tenants = len(deployment.tenants)
        instances = sum(len(t.connectors) for t in deployment.tenants.values())
        console.print(f"{file}: valid ({tenants} tenants, {instances} connector instances)")


@app.command("lifecycle")
def lifecycle(
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON.")] = False,
) -> None:
    """Show the order lifecycle: every state and the states it may move to."""
    if as_json:
        sys.stdout.write(json.dumps(lifecycle_as_json()) + "\n")
        return
    table = Table("state", "may move to", title=f"Order lifecycle (starts in {INITIAL_STATE})")
    for state in OrderState:
        targets = ", ".join(sorted(t.value for t in TRANSITIONS[state])) or "(terminal)"
        table.add_row(state.value, targets)
    console.print(table)


app.command("run")(run)
app.add_typer(dlq_app, name="dlq")
app.add_typer(review_app, name="review")
app.add_typer(audit_app, name="audit")
app.command("trace")(trace)
app.command("ingress")(ingress)
app.command("worker")(worker)
app.command("admin")(admin)
app.command("ingest")(ingest)
app.command("deploy")(deploy)
app.command("demo")(demo)
app.add_typer(release_app, name="release")
app.add_typer(fulfilment_app, name="fulfilment")
app.add_typer(lots_app, name="lots")


def main() -> None:
    """Console-script entry point."""
    app()
