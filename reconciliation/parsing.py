"""One entry point for every format: bytes in, a checked Statement out (or a typed error)."""
from __future__ import annotations

from reconciliation.camt import parse_camt
from reconciliation.errors import StatementMalformed, StatementTooLarge, UnknownMapping
from reconciliation.model import Statement, check_balanced, lines_per_statement_max
from reconciliation.mt940 import parse_mt940
from reconciliation.ofx import parse_ofx
from reconciliation.tabular import ColumnMapping, parse_csv, parse_xlsx

formats = ("camt053", "mt940", "csv", "xlsx", "ofx")
statement_bytes_max = 512 * 1024 * 1024


def guess_format(filename: str | None, content: bytes) -> str:
    name = (filename or "").lower()
    if name.endswith(".xlsx") or content[:2] == b"PK":
        return "xlsx"
    if name.endswith((".sta", ".mt940", ".940")) or content.lstrip()[:4] in (b":20:", b"{1:F"):
        return "mt940"
    start = content.lstrip()[:400].upper()
    if name.endswith((".ofx", ".qfx")) or start.startswith(b"OFXHEADER") or b"<OFX" in start:
        return "ofx"
    if name.endswith(".xml") or content.lstrip()[:1] == b"<":
        return "camt053"
    return "csv"


def parse_statement(content: bytes, fmt: str, mapping: ColumnMapping | None = None) -> Statement:
    if len(content) > statement_bytes_max:
        raise StatementTooLarge(f"the file is {len(content)} bytes; at most {statement_bytes_max} are accepted")
    if not content.strip():
        raise StatementMalformed("the file is empty")
    if fmt == "camt053":
        statement = parse_camt(content)
    elif fmt == "mt940":
        statement = parse_mt940(content)
    elif fmt == "ofx":
        statement = parse_ofx(content)
    elif fmt in ("csv", "xlsx"):
        if mapping is None:
            raise UnknownMapping(f"a {fmt} statement needs a column mapping (--mapping NAME)")
        statement = parse_csv(content, mapping) if fmt == "csv" else parse_xlsx(content, mapping)
    else:
        raise StatementMalformed(f"unknown format {fmt!r}; one of {', '.join(formats)}")
    if len(statement.lines) > lines_per_statement_max:
        raise StatementTooLarge(f"the statement has {len(statement.lines)} lines; at most {lines_per_statement_max}")
    check_balanced(statement)
    return statement
