"""SWIFT MT940 statements, read by the `mt-940` library and turned into the package's own data.

The library gives signed Decimal amounts and the :86: narrative; structured narratives
(/EREF/.../REMI/.../NAME/...) are split here into end-to-end id, remittance and counterparty.
"""
from __future__ import annotations

import datetime as dt
import re

import mt940 as mt940_library

from reconciliation.errors import StatementMalformed
from reconciliation.model import Statement, StatementLine, clip, combined, minor_from_text

_subfield = re.compile(r"/(EREF|REMI|NAME|IBAN|ORDP|BENM|CNTP)/")


# Each statement of a file starts at its :20: (transaction reference) tag; a bank's daily export
# holds one per day. The library keeps one opening and one closing balance for the whole text (the
# last it saw), so each statement is parsed on its own and the file's statements are combined.
_statement_start = re.compile(r"^(?=:20:)", re.MULTILINE)


def parse_mt940(content: bytes) -> Statement:
    """Every statement of an MT940 file, combined into one (reconciliation.model.combined)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = content.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            raise StatementMalformed("the MT940 file is neither UTF-8 nor Latin-1") from None
    if ":20:" not in text or ":61:" not in text and ":62" not in text:
        raise StatementMalformed("not an MT940 statement (no :20: or :61:/:62F: fields)")
    blocks = _statement_start.split(text)
    if len(blocks) > 1 and ":20:" not in blocks[0]:  # the SWIFT envelope ({1:...}{4:) before the first statement
        blocks = [blocks[0] + blocks[1], *blocks[2:]]
    parts, names, first_line = [], [], 1
    for number, block in enumerate(blocks, 1):
        part, reference = _parse_one(block, first_line, f"statement {number}: " if len(blocks) > 1 else "")
        parts.append(part)
        names.append(f"statement {number}" + (f" (:28C: {reference})" if reference else ""))
        first_line += len(part.lines)
    return combined(parts, names)


def _parse_one(text: str, first_line: int, where: str) -> tuple[Statement, str | None]:
    transactions = mt940_library.models.Transactions()
    try:
        transactions.parse(text)
    except Exception as exc:  # the library raises bare exceptions of several kinds on bad input
        raise StatementMalformed(f"MT940: {where}{exc}") from None
    data = transactions.data
    opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
    closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
    if opening is None or closing is None:
        raise StatementMalformed(f"MT940: {where}the statement has no opening (:60F:) or closing (:62F:) balance")
    currency = opening.amount.currency
    lines = []
    for number_in_file, transaction in enumerate(transactions, first_line):
        data_line = transaction.data
        if data_line.get("currency") not in (None, currency):
            raise StatementMalformed(
                f"transaction {number_in_file}: currency {data_line['currency']} differs from {currency}", line=number_in_file
            )
        lines.append(_line(data_line, currency, number_in_file))
    statement = Statement(
        currency=currency,
        opening_minor=minor_from_text(str(opening.amount.amount), currency, where=f"{where}opening balance"),
        closing_minor=minor_from_text(str(closing.amount.amount), currency, where=f"{where}closing balance"),
        lines=tuple(lines), statement_id=data.get("transaction_reference"),
        account=data.get("account_identification"),
        opening_date=_as_date(opening.date), closing_date=_as_date(closing.date),
    )
    number_field = data.get("statement_number")
    reference = f"{number_field}/{data['sequence_number']}" if number_field and data.get("sequence_number") else number_field
    return statement, reference


def _line(data: dict, currency: str, number: int) -> StatementLine:
    fields = _narrative(data.get("transaction_details") or "")
    customer = data.get("customer_reference")
    return StatementLine(
        booking_date=_as_date(data.get("entry_date") or data["date"]),
        amount_minor=minor_from_text(str(data["amount"].amount), currency, where=f"transaction {number}"),
        value_date=_as_date(data["date"]),
        bank_reference=clip(data.get("bank_reference")),
        end_to_end_id=clip(fields.get("EREF") or (customer if customer and customer != "NONREF" else None)),
        counterparty_name=clip(fields.get("NAME") or fields.get("ORDP") or fields.get("BENM")),
        counterparty_account=clip(fields.get("IBAN") or fields.get("CNTP")),
        remittance=clip(fields.get("REMI") or data.get("transaction_details")),
    )


def _narrative(details: str) -> dict[str, str]:
    parts = _subfield.split(details.replace("\n", ""))
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def _as_date(value: object) -> dt.date:
    return dt.date(value.year, value.month, value.day)  # type: ignore[attr-defined]
