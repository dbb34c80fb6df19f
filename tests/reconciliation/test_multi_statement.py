"""A file holding several consecutive statements of one account (a bank's daily MT940 export)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ledger.unit_of_work import run_in_transaction
from reconciliation import errors, importing
from reconciliation.parsing import parse_statement
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

D = dt.date(2026, 3, 2)
monday = [Item(D, Decimal("100.00"), "BR-1", "E2E-1", "Zhang San", "LN-1"), Item(D, Decimal("-2.50"), "BR-2")]
tuesday = [Item(D + dt.timedelta(days=1), Decimal("40.00"), "BR-3")]
wednesday = [Item(D + dt.timedelta(days=2), Decimal("-7.25"), "BR-4"), Item(D + dt.timedelta(days=2), Decimal("1.00"), "BR-5")]


def day_statement(items: list[Item], opening: str, number: int, *, account: str = "NL12BANK0123456789",
                  closing: str | None = None, currency: str = "EUR") -> str:
    text = samples.mt940(items, opening=Decimal(opening), currency=currency).decode()
    text = text.replace(":28C:1/1", f":28C:{number}/1").replace(":25:NL12BANK0123456789", f":25:{account}")
    if closing is not None:
        head, _, last = text.rstrip("\n").rpartition("\n")
        text = head + "\n" + last[:-len(last.rsplit(currency, 1)[1])] + closing.replace(".", ",") + "\n"
    return text


def week(*statements: str) -> bytes:
    # As banks send it: a SWIFT envelope, then each day's statement, each closed by "-".
    return ("{1:F01BANKNL2AXXXX0000000000}{2:O9400000000000BANKNL2AXXXX00000000000000000000N}{4:\n"
            + "-\n".join(statements) + "-}").encode()


def test_every_statement_of_the_file_is_read_and_they_chain() -> None:
    statement = parse_statement(week(day_statement(monday, "1000", 1), day_statement(tuesday, "1097.50", 2),
                                     day_statement(wednesday, "1137.50", 3)), "mt940")
    assert [line.amount_minor for line in statement.lines] == [10000, -250, 4000, -725, 100]
    assert [line.bank_reference for line in statement.lines] == ["BR-1", "BR-2", "BR-3", "BR-4", "BR-5"]
    assert (statement.opening_minor, statement.closing_minor) == (100000, 113125)
    assert (statement.opening_date, statement.closing_date) == (D, D + dt.timedelta(days=2))
    assert statement.account == "NL12BANK0123456789" and statement.currency == "EUR"
    assert statement.lines[0].counterparty_name == "Zhang San" and statement.lines[0].end_to_end_id == "E2E-1"


def test_a_missing_day_between_two_statements_is_named() -> None:
    content = week(day_statement(monday, "1000", 1), day_statement(wednesday, "1137.50", 3))
    with pytest.raises(errors.StatementDiscontinuous) as raised:
        parse_statement(content, "mt940")
    assert "statement 2 (:28C: 3/1) opens with 1137.50 EUR, but statement 1 (:28C: 1/1) closed with 1097.50 EUR" in str(raised.value)


def test_a_day_that_does_not_balance_is_named_though_the_file_would() -> None:
    # Tuesday's closing balance is 1.00 short and Wednesday opens with it, so the file's first opening plus all
    # its lines still reaches the last closing balance: only the day's own check finds the error.
    content = week(day_statement(monday, "1000", 1), day_statement(tuesday, "1097.50", 2, closing="1136.50"),
                   day_statement(wednesday, "1136.50", 3))
    with pytest.raises(errors.StatementUnbalanced, match=r"^.*statement 2 \(:28C: 2/1\): opening balance"):
        parse_statement(content, "mt940")


def test_statements_of_two_accounts_in_one_file_are_refused() -> None:
    content = week(day_statement(monday, "1000", 1), day_statement(tuesday, "1097.50", 2, account="NL99BANK0000000001"))
    with pytest.raises(errors.StatementMalformed, match="statement 2 .* is of account NL99BANK0000000001"):
        parse_statement(content, "mt940")


def test_a_week_imports_once_and_again_adds_nothing(engine, actor) -> None:
    content = week(day_statement(monday, "0", 1, currency="CNY"), day_statement(tuesday, "97.50", 2, currency="CNY"))

    def imported():
        return run_in_transaction(engine, lambda conn: importing.import_statement(conn, actor, "1100", content, fmt="mt940"))

    first = imported()
    assert first.lines_added == 3
    again = imported()
    assert (again.lines_added, again.replayed) == (0, True)


def camt_days(*statements: bytes) -> bytes:
    """One camt.053 document holding the Stmt of each of these documents, in order."""
    bodies = [text.decode().split("<Stmt>", 1)[1].rsplit("</Stmt>", 1)[0] for text in statements]
    head = statements[0].decode().split("<Stmt>", 1)[0]
    return (head + "".join(f"<Stmt>{body}</Stmt>" for body in bodies) + "</BkToCstmrStmt></Document>").encode()


def test_a_camt_document_with_a_statement_per_day_is_read_whole() -> None:
    content = camt_days(
        samples.camt053(monday, opening=Decimal("1000"), statement_id="D1"),
        samples.camt053(tuesday, opening=Decimal("1097.50"), statement_id="D2"),
        samples.camt053(wednesday, opening=Decimal("1137.50"), statement_id="D3"),
    )
    statement = parse_statement(content, "camt053")
    assert [line.bank_reference for line in statement.lines] == ["BR-1", "BR-2", "BR-3", "BR-4", "BR-5"]
    assert (statement.opening_minor, statement.closing_minor, statement.statement_id) == (100000, 113125, "D1")
    gap = camt_days(samples.camt053(monday, opening=Decimal("1000"), statement_id="D1"),
                    samples.camt053(wednesday, opening=Decimal("1137.50"), statement_id="D3"))
    with pytest.raises(errors.StatementDiscontinuous, match=r"statement 2 \(D3\) opens with 1137.50 CNY"):
        parse_statement(gap, "camt053")


def test_an_error_in_a_later_statement_names_the_entry_by_its_place_in_the_file() -> None:
    later = samples.camt053(tuesday, opening=Decimal("1097.50"), statement_id="D2")
    for tag in (b"BookgDt", b"ValDt"):
        later = later.replace(b"<" + tag + b">", b"<X" + tag + b">").replace(b"</" + tag + b">", b"</X" + tag + b">")
    with pytest.raises(errors.StatementMalformed, match="entry 3: no booking date or value date"):
        parse_statement(camt_days(samples.camt053(monday, opening=Decimal("1000")), later), "camt053")


def test_a_notification_without_balances_takes_its_currency_from_the_entries() -> None:
    content = samples.camt053(monday, currency="EUR").replace(b"<Ccy>EUR</Ccy>", b"")
    for code in (b"OPBD", b"CLBD"):
        start = content.index(b"<Bal><Tp><CdOrPrtry><Cd>" + code)
        content = content[:start] + content[content.index(b"</Bal>", start) + len(b"</Bal>"):]
    statement = parse_statement(content, "camt053")
    assert statement.currency == "EUR" and statement.opening_minor is None and len(statement.lines) == 2
