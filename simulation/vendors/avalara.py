"""Avalara AvaTax REST v2 shapes: the TransactionModel that ``transactions/create`` returns.

AvaTax computes the tax for each line from the ship-to address; the simulation charges one
combined rate per state (a flat table, which is all a demo needs to be plausible) and answers with
amounts as JSON numbers, as AvaTax does. A committed ``SalesInvoice`` is a filed document.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["RATES", "transaction"]

#: Combined sales tax rates by ship-to state (state plus a typical local share).
RATES = {"NY": Decimal("0.08875"), "IL": Decimal("0.1025"), "CA": Decimal("0.0725"),
         "TX": Decimal("0.0825"), "WA": Decimal("0.101"), "MA": Decimal("0.0625")}  # fmt: skip
_CENT = Decimal("0.01")


def _ship_to(model: dict[str, Any]) -> dict[str, Any]:
    addresses = model.get("addresses") or {}
    return addresses.get("shipTo") or addresses.get("singleLocation") or {}


def transaction(model: dict[str, Any], transaction_id: int, stamp: str) -> dict[str, Any]:
    """The TransactionModel for a CreateTransactionModel (``commit`` makes it Committed)."""
    region = str(_ship_to(model).get("region") or "")
    rate = RATES.get(region, Decimal(0))
    committed = bool(model.get("commit"))
    lines = []
    total_amount = Decimal(0)
    total_tax = Decimal(0)
    for index, line in enumerate(model.get("lines") or []):
        amount = Decimal(str(line.get("amount", 0)))
        tax = (amount * rate).quantize(_CENT, ROUND_HALF_UP)
        total_amount += amount
        total_tax += tax
        lines.append(
            {
                "id": transaction_id * 100 + index,
                "transactionId": transaction_id,
                "lineNumber": str(line.get("number", index + 1)),
                "description": line.get("description") or line.get("itemCode"),
                "itemCode": line.get("itemCode"),
                "quantity": line.get("quantity", 1),
                "lineAmount": amount,
                "discountAmount": 0,
                "exemptAmount": 0,
                "isItemTaxable": rate > 0,
                "tax": tax,
                "taxableAmount": amount,
                "taxCalculated": tax,
                "taxCode": line.get("taxCode") or "P0000000",
                "taxIncluded": False,
                "details": [
                    {
                        "id": transaction_id * 1000 + index,
                        "country": "US",
                        "region": region,
                        "jurisCode": region,
                        "jurisName": region,
                        "jurisType": "STA",
                        "rate": rate,
                        "tax": tax,
                        "taxableAmount": amount,
                        "taxName": f"{region} STATE TAX",
                    }
                ]
                if rate > 0
                else [],
            }
        )
    return {
        "id": transaction_id,
        "code": model.get("code") or f"sim-{transaction_id}",
        "companyId": 559766,
        "date": str(model.get("date") or stamp[:10]),
        "status": "Committed" if committed else "Temporary",
        "type": model.get("type") or "SalesOrder",
        "currencyCode": model.get("currencyCode") or "USD",
        "customerCode": model.get("customerCode"),
        "purchaseOrderNo": model.get("purchaseOrderNo"),
        "referenceCode": model.get("referenceCode"),
        "totalAmount": total_amount,
        "totalExempt": 0,
        "totalTax": total_tax,
        "totalTaxable": total_amount,
        "totalTaxCalculated": total_tax,
        "adjustmentReason": "NotAdjusted",
        "locked": committed,
        "region": region,
        "country": "US",
        "version": 1,
        "modifiedDate": stamp,
        "lines": lines,
    }
