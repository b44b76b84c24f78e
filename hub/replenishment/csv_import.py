"""``hub procurement import FILE``: purchase orders, ship notices and receipts from one CSV file,
applied through the ledger as canonical messages (until a supplier or ERP connector sends them).

One row per document line; the header names the columns (any order)::

    record,tenant,document,po_number,supplier,location,sku,quantity,date,expected_at

* ``record``: ``po`` (purchase order placed), ``asn`` (advance ship notice) or ``receipt``.
* ``document``: the PO number, ASN id or receipt id. Rows with the same ``record`` and
  ``document`` are the lines of one document and must agree on every other column but
  ``sku`` and ``quantity``.
* ``po_number``: the purchase order a notice (required) or receipt (optional) belongs to; for a
  ``po`` row it may be left empty (it is the document).
* ``supplier``: required for ``po`` and ``asn``, optional for ``receipt``.
* ``location``: where the goods go (a location in the catalog); ``sku``: a SKU in the catalog.
* ``quantity``: whole units, above 0 (``receipt`` rows may say 0: a line not delivered).
* ``date``: when the PO was placed, the notice's goods shipped, or the receipt was recorded.
  ``expected_at``: when the goods are expected (``po`` and ``asn``, required). Dates are ISO 8601:
  ``2026-03-02`` (midnight UTC) or a date-time (UTC when it has no offset).

The whole file is checked before anything is applied; every problem is reported as
``FILE:LINE: message``. Each document becomes one envelope whose idempotency key is derived from
its record kind and id, so importing the same file twice applies nothing the second time, and a
document already imported is not changed by a later file (send a correction with a new id).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from canonical import (
    AdvanceShipNotice,
    Envelope,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    SourceRef,
    SupplierLine,
)
from canonical.identifiers import ExternalId, LocationId, Sku, TenantId
from hub.errors import ConfigurationError
from hub.ledger.store import Ledger

__all__ = ["COLUMNS", "ImportReport", "import_procurement", "read_procurement"]

COLUMNS = (
    "record",
    "tenant",
    "document",
    "po_number",
    "supplier",
    "location",
    "sku",
    "quantity",
    "date",
    "expected_at",
)
_REQUIRED = ("record", "tenant", "document", "location", "sku", "quantity", "date")
#: record kind -> event type; also the order documents are applied in (a receipt may name only
#: its notice, whose purchase order must then already be known)
_EVENTS = {
    "po": "purchase_order.placed",
    "asn": "ship_notice.received",
    "receipt": "receipt.recorded",
}
_HEADER_FIELDS = ("po_number", "supplier", "location", "date", "expected_at")
SOURCE = SourceRef(connector="csv", instance="procurement_import")
_CHECKS: dict[str, TypeAdapter[Any]] = {
    "tenant": TypeAdapter(TenantId),
    "document": TypeAdapter(ExternalId),
    "po_number": TypeAdapter(ExternalId),
    "location": TypeAdapter(LocationId),
    "sku": TypeAdapter(Sku),
}


class ProcurementImportError(ConfigurationError):
    """The file is wrong; the message lists every problem as FILE:LINE: message."""


@dataclass(slots=True)
class _Document:
    record: str
    number: str
    line: int
    fields: dict[str, Any]
    lines: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportReport:
    applied: int
    duplicate: int
    #: FILE:LINE: why, for each document the ledger refused
    refused: tuple[str, ...]


def _parse_time(text: str) -> datetime:
    """ISO 8601 date (midnight UTC) or date-time (UTC unless it says otherwise)."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(row: dict[str, str]) -> tuple[str, str, dict[str, Any], tuple[str, int]]:
    """One checked row: (record, document, header fields, (sku, quantity)); raises ValueError."""
    values = {k: (row.get(k) or "").strip() for k in COLUMNS}
    record = values["record"].lower()
    if record not in _EVENTS:
        raise ValueError(f"record must be po, asn or receipt, not {values['record']!r}")
    for column in _REQUIRED:
        if not values[column]:
            raise ValueError(f"{column} is empty")
    for column, check in _CHECKS.items():
        if values[column]:
            try:
                check.validate_python(values[column])
            except ValidationError as exc:
                raise ValueError(f"{column} {values[column]!r}: {exc.errors()[0]['msg']}") from None
    try:
        quantity = int(values["quantity"])
    except ValueError:
        raise ValueError(f"quantity must be a whole number, not {values['quantity']!r}") from None
    if quantity < 0 or (quantity == 0 and record != "receipt"):
        raise ValueError(f"quantity must be above 0 on a {record} row, not {quantity}")
    if record == "asn" and not values["po_number"]:
        raise ValueError("an asn row needs the po_number it ships against")
    if record == "po" and values["po_number"] not in ("", values["document"]):
        raise ValueError("a po row's po_number must be empty or its document")
    if record in ("po", "asn"):
        for column in ("supplier", "expected_at"):
            if not values[column]:
                raise ValueError(f"{record} rows need {column}")
    fields: dict[str, Any] = {"tenant": values["tenant"]}
    for column in _HEADER_FIELDS:
        fields[column] = values[column] or None
    for column in ("date", "expected_at"):
        if fields[column]:
            try:
                fields[column] = _parse_time(fields[column])
            except ValueError:
                raise ValueError(
                    f"{column} {values[column]!r} is not an ISO 8601 date or date-time"
                ) from None
    return record, values["document"], fields, (values["sku"], quantity)


def _payload(document: _Document) -> PurchaseOrder | AdvanceShipNotice | Receipt:
    f, number = document.fields, document.number
    if document.record == "po":
        return PurchaseOrder(
            tenant=f["tenant"],
            po_number=number,
            supplier=f["supplier"],
            location=f["location"],
            lines=[PurchaseOrderLine(sku=sku, quantity=qty) for sku, qty in document.lines],
            ordered_at=f["date"],
            expected_at=f["expected_at"],
        )
    if document.record == "asn":
        return AdvanceShipNotice(
            tenant=f["tenant"],
            asn_id=number,
            po_number=f["po_number"],
            supplier=f["supplier"],
            location=f["location"],
            lines=[SupplierLine(sku=sku, quantity=qty) for sku, qty in document.lines],
            shipped_at=f["date"],
            expected_at=f["expected_at"],
        )
    return Receipt(
        tenant=f["tenant"],
        receipt_id=number,
        po_number=f["po_number"],
        supplier=f["supplier"],
        location=f["location"],
        lines=[ReceiptLine(sku=sku, quantity=qty) for sku, qty in document.lines],
        received_at=f["date"],
    )


def _documents(
    path: Path, rows: list[dict[str, str]], problems: list[tuple[int, str]]
) -> list[_Document]:
    documents: dict[tuple[str, str, str], _Document] = {}
    for number, row in enumerate(rows, start=2):
        where = f"{path}:{number}"
        try:
            record, key, fields, line = _row(row)
        except ValueError as exc:
            problems.append((number, f"{where}: {exc}"))
            continue
        document = documents.setdefault(
            (fields["tenant"], record, key), _Document(record, key, number, fields)
        )
        differs = [c for c in _HEADER_FIELDS if document.fields[c] != fields[c]]
        if differs:
            problems.append(
                (
                    number,
                    f"{where}: {record} {key}: {', '.join(differs)} differ from line "
                    f"{document.line} (the rows of one document must agree on everything but "
                    "sku and quantity)",
                )
            )
            continue
        document.lines.append(line)
    return list(documents.values())


def read_procurement(path: Path) -> list[tuple[int, Envelope]]:
    """The file's documents as envelopes, each with the line it starts on, in apply order
    (purchase orders, then notices, then receipts; file order within each)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or ()]
        rows = list(reader)
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ProcurementImportError(
            f"{path}:1: the header lacks {', '.join(missing)} (columns: {','.join(COLUMNS)})"
        )
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ProcurementImportError(f"{path}:1: unknown columns {', '.join(unknown)}")
    if not rows:
        raise ProcurementImportError(f"{path}:1: no rows after the header")
    problems: list[tuple[int, str]] = []
    envelopes = []
    for document in sorted(
        _documents(path, rows, problems), key=lambda d: (list(_EVENTS).index(d.record), d.line)
    ):
        try:
            payload = _payload(document)
        except ValidationError as exc:
            error = exc.errors()[0]
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["loc"]:
                message = f"{'.'.join(str(p) for p in error['loc'])}: {message}"
            problems.append(
                (
                    document.line,
                    f"{path}:{document.line}: {document.record} {document.number}: {message}",
                )
            )
            continue
        envelope = Envelope.wrap(
            payload,
            event_type=_EVENTS[document.record],
            source=SOURCE,
            source_ids=(document.record, document.number),
            occurred_at=document.fields["date"],
        )
        envelopes.append((document.line, envelope))
    if problems:
        raise ProcurementImportError("\n".join(text for _, text in sorted(problems)))
    return envelopes


def import_procurement(ledger: Ledger, path: Path, *, batch: int = 500) -> ImportReport:
    """Check the whole file, then apply its documents through the ledger in batches.

    A document the ledger refuses (an unknown SKU or location) is reported with its line and the
    others still apply; fixing the master data and importing again applies only the refused ones.
    """
    envelopes = read_procurement(path)
    applied = duplicate = 0
    refused = []
    for start in range(0, len(envelopes), batch):
        chunk = envelopes[start : start + batch]
        for (line, _), result in zip(chunk, ledger.apply([e for _, e in chunk]), strict=True):
            if result.outcome == "duplicate":
                duplicate += 1
            elif result.outcome == "rejected":
                refused.append(f"{path}:{line}: refused by the ledger: {result.reason}")
            else:
                applied += 1
    return ImportReport(applied, duplicate, tuple(refused))
