"""SWIFT MT940 statements, read by the `mt-940` library and turned into the package's own data.

The library gives signed Decimal amounts and the :86: narrative; structured narratives
(/EREF/.../REMI/.../NAME/...) are split here into end-to-end id, remittance and counterparty.
"""
from __future__ import annotations

import datetime as dt
import re

import mt940 as mt940_library

from reconciliation.errors import StatementMalformed
from reconciliation.model import Statement, StatementLine, clip, minor_from_text

_subfield = re.compile(r"/(EREF|REMI|NAME|IBAN|ORDP|BENM|CNTP)/")


def parse_mt940(content: bytes) -> Statement:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = content.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            raise StatementMalformed("the MT940 file is neither UTF-8 nor Latin-1") from None
    if ":20:" not in text or ":61:" not in text and ":62" not in text:
        raise StatementMalformed("not an MT940 statement (no :20: or :61:/:62F: fields)")
    transactions = mt940_library.models.Transactions()
    try:
        transactions.parse(text)
    except Exception as exc:  # the library raises bare exceptions of several kinds on bad input
        raise StatementMalformed(f"MT940: {exc}") from None
    opening = transactions.data.get("final_opening_balance")
    closing = transactions.data.get("final_closing_balance")
    if opening is None or closing is None:
        raise StatementMalformed("MT940: the statement has no opening (:60F:) or closing (:62F:) balance")
    currency = opening.amount.currency
    lines = []
    for number, transaction in enumerate(transactions, 1):
        data = transaction.data
        if data.get("currency") not in (None, currency):
            raise StatementMalformed(f"transaction {number}: currency {data['currency']} differs from {currency}", line=number)
        fields = _narrative(data.get("transaction_details") or "")
        customer = data.get("customer_reference")
        lines.append(StatementLine(
            booking_date=_as_date(data.get("entry_date") or data["date"]),
            amount_minor=minor_from_text(str(data["amount"].amount), currency, where=f"transaction {number}"),
            value_date=_as_date(data["date"]),
            bank_reference=clip(data.get("bank_reference")),
            end_to_end_id=clip(fields.get("EREF") or (customer if customer and customer != "NONREF" else None)),
            counterparty_name=clip(fields.get("NAME") or fields.get("ORDP") or fields.get("BENM")),
            counterparty_account=clip(fields.get("IBAN") or fields.get("CNTP")),
            remittance=clip(fields.get("REMI") or data.get("transaction_details")),
        ))
    return Statement(
        currency=currency,
        opening_minor=minor_from_text(str(opening.amount.amount), currency, where="opening balance"),
        closing_minor=minor_from_text(str(closing.amount.amount), currency, where="closing balance"),
        lines=tuple(lines), statement_id=transactions.data.get("transaction_reference"),
        account=transactions.data.get("account_identification"),
        opening_date=_as_date(opening.date), closing_date=_as_date(closing.date),
    )


def _narrative(details: str) -> dict[str, str]:
    parts = _subfield.split(details.replace("\n", ""))
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def _as_date(value: object) -> dt.date:
    return dt.date(value.year, value.month, value.day)  # type: ignore[attr-defined]
