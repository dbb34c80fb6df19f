"""OFX 2 (XML) statements: read like the others, refused like the others when hostile."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reconciliation import errors
from reconciliation.parsing import guess_format, parse_statement
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

D = dt.date(2026, 3, 2)
items = [
    Item(D, Decimal("1500.50"), "FIT-1", "E2E-1", "张三", "repayment LN-1", account="6222020200112233445"),
    Item(D + dt.timedelta(days=1), Decimal("-25.00"), "FIT-2", None, None, "bank charges"),
    Item(D + dt.timedelta(days=2), Decimal("0.01"), "FIT-3", None, "Li Si & Co <HK>", None),
]


def test_a_bank_statement_reads_amounts_dates_references_and_parties() -> None:
    content = samples.ofx(items, closing=Decimal("2475.51"))
    assert guess_format("download.qfx", b"") == "ofx" and guess_format(None, content) == "ofx"
    statement = parse_statement(content, "ofx")
    assert statement.currency == "USD" and statement.account == "999988"
    assert [(line.booking_date, line.amount_minor, line.bank_reference) for line in statement.lines] == [
        (D, 150050, "FIT-1"), (D + dt.timedelta(days=1), -2500, "FIT-2"), (D + dt.timedelta(days=2), 1, "FIT-3")]
    first, third = statement.lines[0], statement.lines[2]
    assert (first.end_to_end_id, first.counterparty_name, first.counterparty_account, first.remittance) == (
        "E2E-1", "张三", "6222020200112233445", "repayment LN-1")
    assert third.counterparty_name == "Li Si & Co <HK>" and third.value_date == D + dt.timedelta(days=2)
    # OFX states the closing balance only: kept, with its date; nothing to check the lines against.
    assert (statement.opening_minor, statement.closing_minor, statement.closing_date) == (None, 247551, D + dt.timedelta(days=2))


def test_a_credit_card_statement() -> None:
    statement = parse_statement(samples.ofx(items[:1], card=True, currency="CNY"), "ofx")
    assert statement.account == "4000123412341234" and statement.lines[0].amount_minor == 150050


@pytest.mark.parametrize("change, message", [
    ((b"<TRNAMT>1500.50</TRNAMT>", b""), "transaction 1: no TRNAMT"),
    ((b"<TRNAMT>1500.50</TRNAMT>", b"<TRNAMT>1500.505</TRNAMT>"), "more decimals"),
    ((b"<TRNAMT>-25.00</TRNAMT>", b"<TRNAMT>-25,00x</TRNAMT>"), "transaction 2"),
    ((b"<DTPOSTED>20260302", b"<DTPOSTED>2026-03-"), "not an OFX date"),
    ((b"<CURDEF>USD</CURDEF>", b"<CURDEF>dollars</CURDEF>"), "CURDEF"),
    ((b"<FITID>FIT-1</FITID>", b"<FITID>FIT-1</FITID><CURRENCY><CURRATE>7.1</CURRATE><CURSYM>EUR</CURSYM></CURRENCY>"),
     "amount in EUR"),
    ((b"BANKMSGSRSV1>", b"INVMSGSRSV1>"), "not an OFX bank or card statement"),
])
def test_a_bad_file_is_malformed_and_says_where(change, message) -> None:
    with pytest.raises(errors.StatementMalformed, match=message):
        parse_statement(samples.ofx(items).replace(*change), "ofx")


def test_ofx_1_sgml_is_refused_with_a_pointer_to_ofx_2() -> None:
    sgml = b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD\n</OFX>"
    assert guess_format(None, sgml) == "ofx"
    with pytest.raises(errors.StatementMalformed, match="OFX 2"):
        parse_statement(sgml, "ofx")


entity_bomb = (b'<?xml version="1.0"?><!DOCTYPE OFX [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
               b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD</CURDEF>'
               b"<BANKTRANLIST><STMTTRN><TRNAMT>1.00</TRNAMT><DTPOSTED>20260302</DTPOSTED><MEMO>&c;</MEMO></STMTTRN>"
               b"</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>")
external_entity = (b'<?xml version="1.0"?><!DOCTYPE OFX [<!ENTITY x SYSTEM "file:///etc/passwd">]><OFX><BANKMSGSRSV1><STMTTRNRS>'
                   b"<STMTRS><CURDEF>USD</CURDEF><BANKTRANLIST><STMTTRN><TRNAMT>1.00</TRNAMT><DTPOSTED>20260302</DTPOSTED>"
                   b"<MEMO>&x;</MEMO></STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>")
network_dtd = b'<?xml version="1.0"?><!DOCTYPE OFX SYSTEM "http://example.invalid/ofx.dtd"><OFX/>'


@pytest.mark.parametrize("content", [entity_bomb, external_entity, network_dtd], ids=["entity-bomb", "external-entity", "dtd"])
def test_hostile_ofx_is_refused_before_parsing(content: bytes) -> None:
    with pytest.raises(errors.StatementRefused):
        parse_statement(content, "ofx")


def test_utf16_truncated_and_foreign_documents_are_malformed() -> None:
    content = samples.ofx(items)
    with pytest.raises(errors.StatementMalformed, match="UTF-8"):
        parse_statement(content.decode().encode("utf-16"), "ofx")
    for cut in (60, 400, -20):
        with pytest.raises(errors.StatementMalformed):
            parse_statement(content[:cut], "ofx")
    with pytest.raises(errors.StatementMalformed, match="not <OFX>"):
        parse_statement(samples.camt053(items), "ofx")
