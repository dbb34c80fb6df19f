"""CSV and Excel (.xlsx) exports read through a saved column mapping, one per bank.

A mapping is data (`ColumnMapping.from_json`): the text encoding (UTF-8, GBK, GB18030...), how many
rows precede the header, the date format, either one signed amount column or a debit and a credit
column, and the columns holding the reference, the counterparty and the narrative. Columns are named
by their header text. A bad row is a StatementMalformed naming its row number in the file.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from reconciliation.errors import StatementMalformed, UnknownMapping
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
    encoding: str = "utf-8-sig"
    header_rows_skip: int = 0
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
        if not 0 <= int(mapping.header_rows_skip) <= 50:
            raise UnknownMapping(f"mapping {name!r}: header_rows_skip must be 0 to 50")
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
                          mapping.end_to_end_id, mapping.counterparty, mapping.counterparty_account, mapping.remittance) if c]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise StatementMalformed(f"row {header[0]}: the header has no column {', '.join(map(repr, missing))} (mapping {mapping.name!r})",
                                 line=header[0])
    lines = []
    for number, row in rows:
        if not any(str(cell).strip() for cell in row):
            continue
        lines.append(_line(number, row, columns, mapping))
    return Statement(currency=mapping.currency, opening_minor=None, closing_minor=None, lines=tuple(lines))


def _line(number: int, row: Sequence[object], columns: Mapping[str, int], mapping: ColumnMapping) -> StatementLine:
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
            paid_out = minor_from_text(cell(mapping.debit) or "0", mapping.currency, where=where)
            paid_in = minor_from_text(cell(mapping.credit) or "0", mapping.currency, where=where)
            minor = paid_in - paid_out
        booked = _date(row[columns[mapping.date]], mapping.date_format, where)
        value_date = _date(row[columns[mapping.value_date]], mapping.date_format, where) if mapping.value_date else None
    except StatementMalformed as exc:
        raise StatementMalformed(exc.message, line=number) from None
    return StatementLine(
        booking_date=booked, amount_minor=minor, value_date=value_date, bank_reference=clip(cell(mapping.reference)),
        end_to_end_id=clip(cell(mapping.end_to_end_id)), counterparty_name=clip(cell(mapping.counterparty)),
        counterparty_account=clip(cell(mapping.counterparty_account)), remittance=clip(cell(mapping.remittance)),
    )


def _date(value: object, date_format: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.strptime(str(value).strip(), date_format).date()
    except ValueError:
        raise StatementMalformed(f"{where}: {value!r} is not a date in the format {date_format}") from None
