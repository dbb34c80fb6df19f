"""OFX 2 (XML) bank and credit card statements, parsed with the hardened lxml of reconciliation.hardened_xml.

The first statement response of the document (STMTRS, or CCSTMTRS for a card) is read: CURDEF is the
currency, each STMTTRN a line (TRNAMT signed as the bank gives it, money in > 0; DTPOSTED the booking
date, DTUSER the value date; FITID the bank's reference; REFNUM the end-to-end reference; NAME or
PAYEE/NAME the counterparty, BANKACCTTO/CCACCTTO its account; MEMO the narrative). LEDGERBAL is the
closing balance as of DTASOF. OFX states no opening balance, so a statement's lines are not checked
against one, nor its start against the previous statement. OFX 1 (SGML, "OFXHEADER:100") is refused
with a message: it is not XML.
"""
from __future__ import annotations

import datetime as dt

from lxml import etree

from reconciliation.errors import StatementMalformed
from reconciliation.hardened_xml import parse_hardened
from reconciliation.model import Statement, StatementLine, clip, minor_from_text

_responses = ("BANKMSGSRSV1/STMTTRNRS/STMTRS", "CREDITCARDMSGSRSV1/CCSTMTTRNRS/CCSTMTRS")


def parse_ofx(content: bytes) -> Statement:
    if content.lstrip()[:10].upper().startswith(b"OFXHEADER"):
        raise StatementMalformed("this is OFX 1 (SGML); export the statement as OFX 2 (XML)")
    root = parse_hardened(content, "OFX")
    if root.tag != "OFX":
        raise StatementMalformed(f"the document is <{root.tag}>, not <OFX>")
    response = next((found for path in _responses if (found := root.find(path)) is not None), None)
    if response is None:
        raise StatementMalformed("no STMTRS or CCSTMTRS: not an OFX bank or card statement")
    currency = _text(response, "CURDEF")
    if not currency or len(currency) != 3 or not currency.isalpha():
        raise StatementMalformed(f"CURDEF must name the statement's currency (ISO 4217), got {currency!r}")
    currency = currency.upper()
    transactions = response.find("BANKTRANLIST")
    lines = () if transactions is None else tuple(
        _line(trn, number, currency) for number, trn in enumerate(transactions.iterfind("STMTTRN"), 1))
    balance = response.find("LEDGERBAL")
    closing = closing_date = None
    if balance is not None:
        closing = minor_from_text(_text(balance, "BALAMT") or "", currency, where="LEDGERBAL")
        closing_date = _date(_text(balance, "DTASOF"), "LEDGERBAL")
    account = _text(response, "BANKACCTFROM/ACCTID") or _text(response, "CCACCTFROM/ACCTID")
    dates = [line.booking_date for line in lines]
    return Statement(
        currency=currency, opening_minor=None, closing_minor=closing, lines=lines, statement_id=None, account=account,
        opening_date=_date(_text(transactions, "DTSTART"), "DTSTART") if transactions is not None else None,
        closing_date=closing_date or (max(dates) if dates else None),
    )


def _line(trn: etree._Element, number: int, currency: str) -> StatementLine:
    where = f"transaction {number}"
    fields = {child.tag: child for child in trn}  # one pass: the fields are the transaction's children
    amount = _own(fields, "TRNAMT")
    if amount is None:
        raise StatementMalformed(f"{where}: no TRNAMT", line=number)
    other = _text(fields.get("CURRENCY"), "CURSYM")
    if other and other.upper() != currency:
        raise StatementMalformed(f"{where}: amount in {other}, statement in {currency}", line=number)
    posted = _date(_own(fields, "DTPOSTED"), where)
    if posted is None:
        raise StatementMalformed(f"{where}: no DTPOSTED (booking date)", line=number)
    payee = fields.get("PAYEE")
    counterpart = fields.get("BANKACCTTO")
    if counterpart is None:
        counterpart = fields.get("CCACCTTO")
    return StatementLine(
        booking_date=posted, amount_minor=minor_from_text(amount, currency, where=where),
        value_date=_date(_own(fields, "DTUSER"), where), bank_reference=clip(_own(fields, "FITID")),
        end_to_end_id=clip(_own(fields, "REFNUM")),
        counterparty_name=clip(_own(fields, "NAME") or _text(payee, "NAME")),
        counterparty_account=clip(_text(counterpart, "ACCTID")), remittance=clip(_own(fields, "MEMO")),
    )


def _own(fields: dict, tag: str) -> str | None:
    found = fields.get(tag)
    return None if found is None or found.text is None else (found.text.strip() or None)


def _text(element: etree._Element | None, path: str) -> str | None:
    found = None if element is None else element.find(path)
    return None if found is None or found.text is None else (found.text.strip() or None)


def _date(text: str | None, where: str) -> dt.date | None:
    """OFX dates are YYYYMMDD, optionally followed by a time and a zone ("20260105120000.000[-5:EST]")."""
    if text is None:
        return None
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        raise StatementMalformed(f"{where}: {text!r} is not an OFX date (YYYYMMDD...)") from None
