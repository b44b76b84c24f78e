"""Avalara AvaTax transactions to canonical tax quotes and commits, and orders to requests. Pure.

AvaTax answers ``CreateTransaction`` with a TransactionModel whose amounts are JSON *numbers*
(``"totalTax": 7.75``); they are parsed as Decimal (``load_payload``), never as floats, and sent the
same way (``dump_payload``).

* ``type`` ``SalesOrder`` (or any uncommitted document) -> ``tax.quoted`` (:class:`TaxQuote`);
  ``SalesInvoice`` with ``status`` ``Committed`` -> ``tax.committed`` (:class:`TaxCommit`).
* The order is named by the request: the hub sends ``purchaseOrderNo`` = the order's external id
  and ``referenceCode`` = its channel; a transaction made elsewhere without ``referenceCode`` is
  attributed to the connector instance's channel. The document ``code`` links quote and commit.
* Lines: ``lineNumber`` is the order line id the hub sent (``shipping-<n>`` for shipping lines);
  ``taxableAmount`` and ``tax`` per line, and each jurisdiction of ``details`` (name, type, rate,
  tax, taxable). The quote's lines must sum to ``totalTax`` (the canonical model checks it).
* Times: ``modifiedDate`` is UTC without an offset (AvaTax's convention); without it, ``date``.
* Keys: ``(code, type, status, version)``: a redelivery or re-read of the same document version
  derives the same key; an adjustment (new version) or the commit derives a new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canonical.envelope import Envelope
from canonical.money import Money
from canonical.order import Order, OrderRef
from canonical.party import Address
from canonical.tax import TaxCommit, TaxJurisdictionDetail, TaxQuote, TaxQuoteLine
from connectors.spec import TranslationContext
from connectors.translate import Fields, build, envelope

__all__ = ["from_canonical_order", "translate_transaction"]

CONNECTOR = "avalara"
PROVIDER = "avalara"


def _when(txn: Fields) -> datetime:
    if txn.has("modifiedDate"):
        value = txn.str("modifiedDate")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise txn.fail("modifiedDate", f"{value!r} is not an ISO 8601 time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    value = txn.str("date")
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise txn.fail("date", f"{value!r} is not a date") from None


def _order_ref(txn: Fields, ctx: TranslationContext) -> OrderRef:
    external = txn.opt_str("purchaseOrderNo") or txn.str("code")
    return build(
        OrderRef,
        "purchaseOrderNo",
        channel=txn.opt_str("referenceCode") or ctx.instance,
        external_id=external,
    )


def _quote_lines(txn: Fields, currency: str) -> list[TaxQuoteLine]:
    lines = []
    for line in txn.objs("lines"):
        details = [
            build(
                TaxJurisdictionDetail,
                detail.path,
                jurisdiction=detail.str("jurisName"),
                jurisdiction_type=detail.opt_str("jurisType"),
                rate=detail.decimal("rate"),
                tax=detail.money("tax", currency),
                taxable=detail.money("taxableAmount", currency),
            )
            for detail in line.objs("details")
        ]
        lines.append(
            build(
                TaxQuoteLine,
                line.path,
                line_id=line.str("lineNumber"),
                taxable_amount=line.money("taxableAmount", currency),
                tax=line.money("tax", currency),
                details=details,
            )
        )
    return lines


def translate_transaction(raw: Any, ctx: TranslationContext) -> list[Envelope]:
    """A CreateTransaction (or CommitTransaction) response."""
    txn = Fields(raw)
    currency = txn.currency("currencyCode")
    kind, status = txn.str("type"), txn.str("status")
    if status in ("Cancelled", "Adjusted", "DocVoided"):
        raise txn.fail("status", f"a {status} transaction is neither a quote nor a commit")
    ref = _order_ref(txn, ctx)
    when = _when(txn)
    code = txn.str("code")
    source_ids = ("transaction", code, kind, status, txn.opt_str("version") or "1")
    payload: TaxQuote | TaxCommit
    if kind == "SalesInvoice" and status == "Committed":
        commit = build(
            TaxCommit,
            "",
            tenant=ctx.tenant,
            order=ref,
            provider=PROVIDER,
            document_code=code,
            total_tax=txn.money("totalTax", currency),
            committed_at=when,
        )
        event_type, payload = "tax.committed", commit
    else:
        quote = build(
            TaxQuote,
            "lines",
            tenant=ctx.tenant,
            order=ref,
            provider=PROVIDER,
            document_code=code,
            currency=currency,
            lines=_quote_lines(txn, currency),
            total_tax=txn.money("totalTax", currency),
            quoted_at=when,
        )
        event_type, payload = "tax.quoted", quote
    return [
        envelope(
            ctx,
            CONNECTOR,
            payload,
            event_type=event_type,
            source_ids=source_ids,
            occurred_at=when,
            correlation_id=ref.key,
        )
    ]


def _address(address: Address) -> dict[str, Any]:
    return {
        "line1": address.line1 or "",
        "line2": address.line2 or "",
        "city": address.city or "",
        "region": address.region or "",
        "postalCode": address.postal_code or "",
        "country": address.country or "",
    }


def from_canonical_order(
    order: Order,
    *,
    company_code: str,
    ship_from: Address,
    commit: bool,
    shipping_tax_code: str = "FR020100",
) -> dict[str, Any]:
    """The CreateTransaction model for ``order``: a SalesOrder quote, or a committed SalesInvoice.

    Amounts are each line's net (after its discounts), as exact Decimals; shipping lines are sent
    as lines ``shipping-<n>`` with the freight tax code.
    """
    if order.shipping_address is None:
        raise ValueError(f"order {order.key} has no shipping address to tax")
    lines: list[dict[str, Any]] = [
        {
            "number": line.line_id,
            "quantity": line.quantity,
            "amount": line.net.amount,
            "itemCode": line.sku or "",
            "description": line.title[:2048],
            "taxIncluded": order.taxes_included,
        }
        for line in order.lines
    ]
    for index, shipping in enumerate(order.shipping_lines):
        net: Money = shipping.price - shipping.discount_total
        lines.append(
            {
                "number": f"shipping-{index}",
                "quantity": 1,
                "amount": net.amount,
                "taxCode": shipping_tax_code,
                "description": shipping.title[:2048],
                "taxIncluded": order.taxes_included,
            }
        )
    return {
        "type": "SalesInvoice" if commit else "SalesOrder",
        "companyCode": company_code,
        "code": f"{order.channel}-{order.external_id}"[:50],
        "date": order.placed_at.date().isoformat(),
        "customerCode": (order.customer.external_id if order.customer else None) or "guest",
        "purchaseOrderNo": order.external_id,
        "referenceCode": order.channel,
        "currencyCode": order.currency,
        "addresses": {"shipFrom": _address(ship_from), "shipTo": _address(order.shipping_address)},
        "lines": lines,
        "commit": commit,
    }
