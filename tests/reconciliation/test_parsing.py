"""Parsing every format, and refusing what a statement must never be."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from reconciliation import errors
from reconciliation.parsing import parse_statement, statement_bytes_max
from reconciliation.tabular import ColumnMapping
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

D = dt.date(2026, 3, 2)
items = [
    Item(D, Decimal("1500.50"), "BR-1", "E2E-1", "张三", "repayment LN-1"),
    Item(D + dt.timedelta(days=1), Decimal("-25.00"), "BR-2", None, None, "bank charges"),
    Item(D + dt.timedelta(days=2), Decimal("0.01"), "BR-3", None, "Li Si", None),
]


def check(statement, *, balances: bool = True) -> None:
    assert [line.amount_minor for line in statement.lines] == [150050, -2500, 1]
    assert [line.booking_date for line in statement.lines] == [D, D + dt.timedelta(days=1), D + dt.timedelta(days=2)]
    assert statement.lines[0].bank_reference == "BR-1"
    if balances:
        assert (statement.opening_minor, statement.closing_minor) == (100000, 100000 + 150050 - 2500 + 1)


def test_camt053_reads_amounts_sides_references_and_parties() -> None:
    statement = parse_statement(samples.camt053(items, opening=Decimal("1000")), "camt053")
    check(statement)
    first = statement.lines[0]
    assert (first.end_to_end_id, first.counterparty_name, first.remittance) == ("E2E-1", "张三", "repayment LN-1")
    assert statement.currency == "CNY" and statement.account == "CN0000000001"


def test_mt940_reads_the_structured_narrative() -> None:
    statement = parse_statement(samples.mt940(items, opening=Decimal("1000")), "mt940")
    check(statement)
    assert statement.currency == "EUR"
    assert (statement.lines[0].end_to_end_id, statement.lines[0].counterparty_name) == ("E2E-1", "张三")


def test_gb18030_csv_with_title_rows_and_debit_credit_columns() -> None:
    mapping = ColumnMapping.from_json("icbc", samples.gbk_mapping)
    statement = parse_statement(samples.gbk_csv(items), "csv", mapping)
    check(statement, balances=False)
    assert statement.lines[0].counterparty_name == "张三"


def test_xlsx_with_a_signed_amount_column() -> None:
    statement = parse_statement(samples.xlsx(items), "xlsx", ColumnMapping.from_json("x", samples.xlsx_mapping))
    check(statement, balances=False)


def test_a_csv_in_the_wrong_encoding_is_refused() -> None:
    mapping = ColumnMapping.from_json("utf8", {**samples.gbk_mapping, "encoding": "utf-8"})
    with pytest.raises(errors.StatementMalformed, match="not utf-8 text"):
        parse_statement(samples.gbk_csv(items), "csv", mapping)


def test_a_bad_row_is_named_by_its_number() -> None:
    text = samples.gbk_csv(items).decode("gb18030").replace("1500.50", "15OO.50").encode("gb18030")
    with pytest.raises(errors.StatementMalformed, match="row 4") as caught:
        parse_statement(text, "csv", ColumnMapping.from_json("icbc", samples.gbk_mapping))
    assert caught.value.details["line"] == 4


def test_a_statement_whose_lines_do_not_reach_the_closing_balance_is_refused() -> None:
    with pytest.raises(errors.StatementUnbalanced):
        parse_statement(samples.camt053(items, closing=Decimal("9.99")), "camt053")


def test_amounts_finer_than_the_currency_are_refused() -> None:
    content = samples.camt053(items).replace(b">1500.50<", b">1500.505<")
    with pytest.raises(errors.StatementMalformed, match="more decimals"):
        parse_statement(content, "camt053")


billion_laughs = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document><BkToCstmrStmt><Stmt><Id>&lol3;</Id></Stmt></BkToCstmrStmt></Document>"""
external_entity = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document><BkToCstmrStmt><Stmt><Id>&x;</Id></Stmt></BkToCstmrStmt></Document>"""
plain_doctype = b"""<?xml version="1.0"?><!DOCTYPE Document SYSTEM "http://example.invalid/camt.dtd"><Document/>"""


@pytest.mark.parametrize("content", [billion_laughs, external_entity, plain_doctype], ids=["entity-bomb", "external-entity", "doctype"])
def test_hostile_xml_is_refused_before_parsing(content: bytes) -> None:
    with pytest.raises(errors.StatementRefused):
        parse_statement(content, "camt053")


def test_utf16_xml_that_could_hide_a_doctype_is_refused() -> None:
    with pytest.raises(errors.StatementMalformed, match="UTF-8"):
        parse_statement(plain_doctype.decode().encode("utf-16"), "camt053")


@pytest.mark.parametrize("cut", [50, 400, -30])
def test_truncated_xml_is_malformed(cut: int) -> None:
    with pytest.raises(errors.StatementMalformed):
        parse_statement(samples.camt053(items)[:cut], "camt053")


def test_garbage_mt940_and_xlsx_are_malformed() -> None:
    with pytest.raises(errors.StatementMalformed):
        parse_statement(b":20:X\n:61:garbage\n", "mt940")
    with pytest.raises(errors.StatementMalformed):
        parse_statement(b"PK\x03\x04 not really a zip", "xlsx", ColumnMapping.from_json("x", samples.xlsx_mapping))


def test_a_file_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciliation import parsing

    monkeypatch.setattr(parsing, "statement_bytes_max", 100)
    assert statement_bytes_max > 100
    with pytest.raises(errors.StatementTooLarge):
        parsing.parse_statement(samples.camt053(items), "camt053")


def test_camt052_without_a_namespace_reads_every_field_the_entries_may_carry() -> None:
    """The entries are read in one XSLT pass: each field, where a bank may put it, and text with tabs and newlines."""
    content = ("""<?xml version="1.0" encoding="UTF-8"?><Document><BkToCstmrAcctRpt><Rpt><Id>R-1</Id>
        <Acct><Id><Othr><Id>6222000000000001</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
        <Ntry><Amt Ccy="CNY"> 12.50 </Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><DtTm>2026-03-02T09:30:00+08:00</DtTm></BookgDt>
          <NtryRef>NR-1</NtryRef><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <RltdPties><Dbtr><Pty><Nm>Zhang\tSan</Nm></Pty></Dbtr><DbtrAcct><Id><Othr><Id>6222 0202</Id></Othr></Id></DbtrAcct>
          <Cdtr><Nm>Us</Nm></Cdtr></RltdPties>
          <RmtInf><Ustrd>loan LN-7</Ustrd><Ustrd>March
          part 2</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
        <Ntry><Amt>3.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2026-03-03</Dt></BookgDt><ValDt><Dt>2026-03-04</Dt></ValDt>
          <AcctSvcrRef>AS-2</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Not the payee</Nm></Dbtr>
          <Cdtr><Nm>ICBC fees</Nm></Cdtr></RltdPties></TxDtls></NtryDtls><AddtlNtryInf>monthly fee</AddtlNtryInf></Ntry>
        </Rpt></BkToCstmrAcctRpt></Document>""").encode()
    statement = parse_statement(content, "camt053")
    first, second = statement.lines
    assert statement.account == "6222000000000001" and (statement.opening_minor, statement.closing_minor) == (None, None)
    assert first == (D, 1250, None, "NR-1", None, "Zhang San", "6222 0202", "loan LN-7 March part 2")
    assert second == (D + dt.timedelta(days=1), -300, D + dt.timedelta(days=2), "AS-2", None, "ICBC fees", None, "monthly fee")


@pytest.mark.parametrize("change, message", [
    (('<Amt Ccy="CNY">1500.50</Amt>', ""), "entry 1: no Amt"),
    (('<Amt Ccy="CNY">1500.50</Amt>', '<Amt Ccy="EUR">1500.50</Amt>'), "entry 1: amount in EUR"),
    (("<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>DEBIT</CdtDbtInd>"), "entry 2: CdtDbtInd must be CRDT or DBIT"),
    (("<BookgDt><Dt>2026-03-04</Dt></BookgDt><ValDt><Dt>2026-03-04</Dt></ValDt>", ""), "entry 3: no booking date or value date"),
    (("<BookgDt><Dt>2026-03-04</Dt></BookgDt>", "<BookgDt><Dt>04.03.2026</Dt></BookgDt>"), "not a date"),
])
def test_a_bad_entry_is_named_by_its_number(change, message) -> None:
    content = samples.camt053(items, opening=Decimal("1000")).decode().replace(*change).encode()
    with pytest.raises(errors.StatementMalformed, match=message):
        parse_statement(content, "camt053")


def test_an_entry_with_a_value_date_alone_is_booked_on_it() -> None:
    content = samples.camt053(items, opening=Decimal("1000")).decode().replace("<BookgDt><Dt>2026-03-04</Dt></BookgDt>", "")
    statement = parse_statement(content.encode(), "camt053")
    assert statement.lines[2].booking_date == statement.lines[2].value_date == dt.date(2026, 3, 4)


def test_statements_parse_alike_in_concurrent_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    contents = [samples.camt053(items, opening=Decimal(n)) for n in range(8)]
    with ThreadPoolExecutor(4) as pool:
        parsed = list(pool.map(lambda content: parse_statement(content, "camt053"), contents))
    assert {statement.lines for statement in parsed} == {parse_statement(contents[0], "camt053").lines}
    assert [statement.opening_minor for statement in parsed] == [n * 100 for n in range(8)]


@pytest.mark.parametrize("currency", ["CNY", "JPY", "KWD"])
@pytest.mark.parametrize("text", ["0", "0.00", "12.5", "12.50", "12.505", "007.10", "1,234.56", " 99 ", "12.", ".5", "-3.00",
                                  "+3.00", "1e3", "99999999999999.99", "100000000000000000", "１２", "12.000", "NaN", "x"])
def test_amounts_read_as_integers_or_through_decimal_agree(text, currency):
    from ledger.money import currency_exponent
    from reconciliation.model import minor_from_text

    def by_decimal() -> int | None:
        try:
            scaled = Decimal(text.strip().replace(",", "")).scaleb(currency_exponent(currency))
        except ArithmeticError:
            return None
        fits = scaled.is_finite() and scaled == scaled.to_integral_value() and abs(scaled) < 10**17
        return int(scaled) if fits else None

    try:
        minor = minor_from_text(text, currency, where="entry 1")
    except errors.StatementMalformed:
        minor = None
    assert minor == by_decimal()


def test_camt_fields_keep_their_text_and_collapse_unicode_spaces():
    from reconciliation.camt import _clipped

    assert _clipped("") is None and _clipped(None) is None
    assert _clipped("Zhang San") == "Zhang San"
    assert _clipped("张三\u00a0 Li") == "张三 Li"
    assert _clipped("x" * 600) == "x" * 500


def test_the_collector_pause_nests_and_restores_the_collector():
    import gc

    from reconciliation import collector

    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()  # it was off before: a pause does not turn it on
    finally:
        gc.enable()
