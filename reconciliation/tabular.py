"""CSV and Excel (.xlsx) exports read through a saved column mapping, one per bank.

A mapping is data (`ColumnMapping.from_json`): the text encoding (UTF-8, GBK, GB18030...), how many
rows precede the header and how many totals rows (合计) close the file, the date format, either one
signed amount column or a debit and a credit column, the running balance column (余额) where the bank
gives one, and the columns holding the reference, the counterparty and the narrative. Columns are
named by their header text. A bad row is a StatementMalformed naming its row number in the file.

With a balance column the export is checked as a statement is: each row's balance must be the one
before it plus the row's amount, in the file's order or, for an export listing the newest first, in
the reverse order (the lines are then put in date order). The opening balance is the first line's
balance less its amount and the closing balance the last line's, so an import checks the export
against the previous statement's closing balance too. A debit or credit cell holding only a dash
("-", "--", as banks print an empty one) counts as empty.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from ledger.money import format_amount
from reconciliation.errors import StatementMalformed, StatementUnbalanced, UnknownMapping
from reconciliation.model import Statement, StatementLine, clip, minor_from_text

encodings_allowed = frozenset({"utf-8", "utf-8-sig", "gbk", "gb18030", "gb2312", "big5", "latin-1", "cp1252", "shift_jis"})


class ColumnMapping(NamedTuple):
    name: str
    currency: str
    date: str
    amount: str | None = None  # one signed column; or debit and credit
    debit: str | None = None
    credit: str | None = None
    value_date: str | None = None
    reference: str | None = None
    end_to_end_id: str | None = None
    counterparty: str | None = None
    counterparty_account: str | None = None
    remittance: str | None = None
    balance: str | None = None  # the account's balance after the row
    encoding: str = "utf-8-sig"
    header_rows_skip: int = 0
    footer_rows_skip: int = 0  # the file's last non-empty rows that are totals, not transactions
    date_format: str = "%Y-%m-%d"
    delimiter: str = ","

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, object]) -> ColumnMapping:
        unknown = set(data) - set(cls._fields)
        if unknown:
            raise UnknownMapping(f"mapping {name!r}: unknown keys {sorted(unknown)}")
        try:
            mapping = cls(**{**data, "name": name})  # type: ignore[arg-type]
        except TypeError as exc:
            raise UnknownMapping(f"mapping {name!r}: {exc}") from None
        if mapping.encoding.lower() not in encodings_allowed:
            raise UnknownMapping(f"mapping {name!r}: encoding {mapping.encoding!r} is not one of {sorted(encodings_allowed)}")
        if (mapping.amount is None) == (mapping.debit is None and mapping.credit is None):
            raise UnknownMapping(f"mapping {name!r}: give either `amount` or `debit` and `credit` columns")
        for key in ("header_rows_skip", "footer_rows_skip"):
            value = getattr(mapping, key)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 50:
                raise UnknownMapping(f"mapping {name!r}: {key} must be a whole number from 0 to 50")
        return mapping

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in self._asdict().items() if k != "name" and v is not None}


def parse_csv(content: bytes, mapping: ColumnMapping) -> Statement:
    try:
        text = content.decode(mapping.encoding)
    except (UnicodeDecodeError, LookupError):
        raise StatementMalformed(f"the file is not {mapping.encoding} text (mapping {mapping.name!r})") from None
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    return _statement(((number, row) for number, row in enumerate(rows, 1)), mapping)


def parse_xlsx(content: bytes, mapping: ColumnMapping) -> Statement:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise StatementMalformed(f"not an .xlsx workbook: {exc}") from None
    sheet = book.worksheets[0]
    rows = ((number, ["" if cell is None else cell for cell in row]) for number, row in enumerate(sheet.iter_rows(values_only=True), 1))
    try:
        return _statement(rows, mapping)
    finally:
        book.close()


def _statement(rows: Iterable[tuple[int, Sequence[object]]], mapping: ColumnMapping) -> Statement:
    rows = iter(rows)
    for _ in range(mapping.header_rows_skip):
        next(rows, None)
    header = next(rows, None)
    if header is None:
        raise StatementMalformed("the file has no header row")
    columns = {str(name).strip(): index for index, name in enumerate(header[1])}
    wanted = [c for c in (mapping.date, mapping.amount, mapping.debit, mapping.credit, mapping.value_date, mapping.reference,
                          mapping.end_to_end_id, mapping.counterparty, mapping.counterparty_account, mapping.remittance,
                          mapping.balance) if c]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise StatementMalformed(f"row {header[0]}: the header has no column {', '.join(map(repr, missing))} (mapping {mapping.name!r})",
                                 line=header[0])
    kept = [(number, row) for number, row in rows if any(str(cell).strip() for cell in row)]
    if mapping.footer_rows_skip:
        kept = kept[:-mapping.footer_rows_skip]
    parsed = [_line(number, row, columns, mapping) for number, row in kept]
    if mapping.balance is None:
        return Statement(currency=mapping.currency, opening_minor=None, closing_minor=None, lines=tuple(line for line, _ in parsed))
    return _with_balances([number for number, _ in kept], parsed, mapping.currency)


def _with_balances(numbers: list[int], parsed: list[tuple[StatementLine, int | None]], currency: str) -> Statement:
    """The statement of rows carrying the running balance: chained forwards, or backwards (newest first)."""
    for number, (_, balance) in zip(numbers, parsed):
        if balance is None:
            raise StatementMalformed(f"row {number}: the balance column is empty", line=number)
    if not parsed:
        return Statement(currency=currency, opening_minor=None, closing_minor=None, lines=())
    forwards = _first_break(parsed)
    if forwards is not None:
        backwards = _first_break(parsed[::-1])
        if backwards is not None:
            number = numbers[forwards]
            line, balance = parsed[forwards]
            expected = parsed[forwards - 1][1] + line.amount_minor  # type: ignore[operator]
            raise StatementUnbalanced(
                f"row {number}: the balance {format_amount(balance, currency)} is not the row before's balance plus its amount "  # type: ignore[arg-type]
                f"({format_amount(expected, currency)} {currency}), read from the top or from the bottom",
                line=number, difference_minor=balance - expected,  # type: ignore[operator]
            )
        parsed = parsed[::-1]
    first, first_balance = parsed[0]
    last, last_balance = parsed[-1]
    return Statement(
        currency=currency, opening_minor=first_balance - first.amount_minor, closing_minor=last_balance,  # type: ignore[operator]
        lines=tuple(line for line, _ in parsed), opening_date=first.booking_date, closing_date=last.booking_date,
    )


def _first_break(parsed: Sequence[tuple[StatementLine, int | None]]) -> int | None:
    """The index of the first row whose balance is not the previous row's plus its amount, or None."""
    for index in range(1, len(parsed)):
        if parsed[index][1] != parsed[index - 1][1] + parsed[index][0].amount_minor:  # type: ignore[operator]
            return index
    return None


def _line(number: int, row: Sequence[object], columns: Mapping[str, int], mapping: ColumnMapping) -> tuple[StatementLine, int | None]:
    """The row's line, and the balance after it (None without a balance column, or an empty cell)."""
    def cell(name: str | None) -> str | None:
        if name is None:
            return None
        index = columns[name]
        value = row[index] if index < len(row) else ""
        if isinstance(value, float):
            # openpyxl hands numbers as float; repr gives the shortest text that round-trips, never a binary artefact.
            value = repr(value)
        text = str(value).strip()
        return text or None

    where = f"row {number}"
    try:
        if mapping.amount is not None:
            minor = minor_from_text(cell(mapping.amount) or "", mapping.currency, where=where)
        else:
            paid_out = minor_from_text(_blank_dash(cell(mapping.debit)) or "0", mapping.currency, where=where)
            paid_in = minor_from_text(_blank_dash(cell(mapping.credit)) or "0", mapping.currency, where=where)
            minor = paid_in - paid_out
        balance_text = cell(mapping.balance)
        balance = minor_from_text(balance_text, mapping.currency, where=f"{where} balance") if balance_text else None
        booked = _date(row[columns[mapping.date]], mapping.date_format, where)
        value_date = _date(row[columns[mapping.value_date]], mapping.date_format, where) if mapping.value_date else None
    except StatementMalformed as exc:
        raise StatementMalformed(exc.message, line=number) from None
    return StatementLine(
        booking_date=booked, amount_minor=minor, value_date=value_date, bank_reference=clip(cell(mapping.reference)),
        end_to_end_id=clip(cell(mapping.end_to_end_id)), counterparty_name=clip(cell(mapping.counterparty)),
        counterparty_account=clip(cell(mapping.counterparty_account)), remittance=clip(cell(mapping.remittance)),
    ), balance


def _blank_dash(text: str | None) -> str | None:
    """An empty debit or credit cell as banks print it ("-", "--", "—")."""
    return None if text is not None and text.strip("-—– ") == "" else text


def _date(value: object, date_format: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.strptime(str(value).strip(), date_format).date()
    except ValueError:
        raise StatementMalformed(f"{where}: {value!r} is not a date in the format {date_format}") from None
