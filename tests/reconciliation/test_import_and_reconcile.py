"""Importing statements and reconciling them against the bank account's postings, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from ledger import queries as ledger_queries
from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.unit_of_work import run_in_transaction
from reconciliation import errors, importing, queries, reconciling
from reconciliation.report import reconciliation_report
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

BANK = "1100"
D = dt.date(2026, 3, 2)


def post(engine, actor, day, amount: str, other: str = "3100", key: str | None = None, meta: dict | None = None):
    value = Decimal(amount)
    legs = (debit(BANK, amount, "CNY"), credit(other, amount, "CNY")) if value > 0 else (
        debit(other, str(-value), "CNY"), credit(BANK, str(-value), "CNY"))
    draft = EntryDraft(day, legs, "capital" if value > 0 else "payment", meta or {}, idempotency_key=key)
    return run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, draft))


def imported(engine, actor, content: bytes, fmt: str = "camt053", **kw):
    return run_in_transaction(engine, lambda conn: importing.import_statement(conn, actor, BANK, content, fmt=fmt, **kw))


def count_lines(engine, tenant_id: int) -> int:
    with engine.connect() as conn:
        return len(queries.lines_page(conn, tenant_id, BANK, limit=500))


def test_import_once_then_a_repeat_adds_nothing(engine, actor) -> None:
    content = samples.camt053([Item(D, Decimal("100.00"), "R1"), Item(D, Decimal("-20.00"), "R2")])
    first = imported(engine, actor, content, filename="march.xml", idempotency_key="stmt-1")
    assert (first.lines_added, first.replayed) == (2, False)
    again = imported(engine, actor, content)
    assert (again.lines_added, again.replayed, again.statement_id) == (0, True, first.statement_id)
    keyed = imported(engine, actor, content, idempotency_key="stmt-1")
    assert keyed.replayed and keyed.statement_id == first.statement_id
    assert count_lines(engine, actor.tenant_id) == 2


def test_each_failed_check_stores_nothing(engine, actor) -> None:
    imported(engine, actor, samples.camt053([Item(D, Decimal("100.00"), "R1")], statement_id="S1"))
    with pytest.raises(errors.StatementDiscontinuous, match="a gap of 5.00 CNY"):
        imported(engine, actor, samples.camt053([Item(D + dt.timedelta(days=5), Decimal("1.00"), "R9")], opening=Decimal("105")))
    with pytest.raises(errors.StatementCurrencyMismatch):
        imported(engine, actor, samples.camt053([Item(D, Decimal("1.00"), "R8")], opening=Decimal("100"), currency="USD"))
    with pytest.raises(errors.StatementRefused):
        imported(engine, actor, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Document/>')
    with pytest.raises(errors.UnknownMapping):
        imported(engine, actor, b"a,b\n1,2\n", fmt="csv", mapping_name="nope")
    assert count_lines(engine, actor.tenant_id) == 1


def test_saved_mapping_imports_a_gb18030_export(engine, actor) -> None:
    run_in_transaction(engine, lambda conn: importing.save_mapping(conn, actor, "icbc", samples.gbk_mapping))
    content = samples.gbk_csv([Item(D, Decimal("88.00"), "ICBC-1", name="王五", remittance="还款")])
    result = imported(engine, actor, content, fmt="csv", mapping_name="icbc")
    assert result.lines_added == 1
    with engine.connect() as conn:
        (line,) = queries.lines_page(conn, actor.tenant_id, BANK)
    assert (line.amount_minor, line.counterparty_name, line.remittance) == (8800, "王五", "还款")


def test_auto_reconcile_matches_by_reference_and_amount_date_and_the_report_ties_out(engine, actor) -> None:
    by_key = post(engine, actor, D, "500.00", key="TRX-500")
    post(engine, actor, D, "120.00")
    post(engine, actor, D + dt.timedelta(days=1), "-45.00")
    in_transit = post(engine, actor, D + dt.timedelta(days=3), "70.00")
    content = samples.camt053([
        Item(D, Decimal("500.00"), "B1", end_to_end_id="TRX-500"),
        Item(D + dt.timedelta(days=2), Decimal("120.00"), "B2"),
        Item(D + dt.timedelta(days=2), Decimal("-45.00"), "B3"),
        Item(D + dt.timedelta(days=3), Decimal("-3.50"), "B4", remittance="account fee"),
    ])
    imported(engine, actor, content)
    done = run_in_transaction(engine, lambda conn: reconciling.auto_reconcile(conn, actor, BANK, D + dt.timedelta(days=5)))
    assert (done.matched, done.unmatched) == (3, 1)
    with engine.connect() as conn:
        rows = {row.bank_reference: row for row in queries.lines_page(conn, actor.tenant_id, BANK)}
        report = reconciliation_report(conn, actor.tenant_id, BANK, D + dt.timedelta(days=5))
    assert rows["B1"].match_rule == "reference" and rows["B2"].match_rule == "amount_date"
    assert rows["B4"].status == "UNMATCHED"
    assert (report.statement_balance_minor, report.ledger_balance_minor) == (57150, 64500)
    assert (report.deposits_in_transit_minor, report.unpresented_payments_minor, report.unbooked_bank_items_minor) == (7000, 0, -350)
    assert report.difference_minor == 0
    assert in_transit.id and by_key.id

    fee = run_in_transaction(engine, lambda conn: reconciling.book_line(
        conn, actor, BANK, rows["B4"].id, "BANK_FEE", "5100", "monthly account fee"))
    with engine.connect() as conn:
        entry = service.get_entry(conn, actor.tenant_id, fee) if hasattr(service, "get_entry") else None
        report = reconciliation_report(conn, actor.tenant_id, BANK, D + dt.timedelta(days=5))
        (b4,) = [r for r in queries.lines_page(conn, actor.tenant_id, BANK) if r.bank_reference == "B4"]
    assert b4.status == "MATCHED" and report.unbooked_bank_items_minor == 0 and report.difference_minor == 0
    if entry is not None:
        assert entry.metadata["workflow"] == "reconciliation"
    again = run_in_transaction(engine, lambda conn: reconciling.auto_reconcile(conn, actor, BANK, D + dt.timedelta(days=5)))
    assert again.matched == 0


def test_manual_match_refuses_a_second_match_and_unmatch_frees_both_sides(engine, actor) -> None:
    entry = post(engine, actor, D, "300.00")
    imported(engine, actor, samples.camt053([Item(D, Decimal("100.00"), "P1"), Item(D, Decimal("200.00"), "P2")]))
    with engine.connect() as conn:
        ids = [row.id for row in queries.lines_page(conn, actor.tenant_id, BANK)]
    key = (entry.id, 1 if entry.postings[0].account_code == BANK else 2)
    key = (entry.id, next(i for i, p in enumerate(entry.postings, 1) if p.account_code == BANK))
    with pytest.raises(errors.MatchUnbalanced):
        run_in_transaction(engine, lambda conn: reconciling.match_lines(conn, actor, BANK, ids[:1], [key], "split repayment"))
    run_in_transaction(engine, lambda conn: reconciling.match_lines(conn, actor, BANK, ids, [key], "split repayment"))
    with pytest.raises(errors.AlreadyMatched):
        run_in_transaction(engine, lambda conn: reconciling.match_lines(conn, actor, BANK, ids, [key], "again"))
    freed = run_in_transaction(engine, lambda conn: reconciling.unmatch_lines(conn, actor, BANK, ids[:1], "wrong loan"))
    assert sorted(freed) == sorted(ids)


def test_the_database_refuses_a_posting_matched_twice(engine, actor) -> None:
    from reconciliation.store import repository

    entry = post(engine, actor, D, "10.00")
    imported(engine, actor, samples.camt053([Item(D, Decimal("10.00"), "Q1")]))
    run_in_transaction(engine, lambda conn: reconciling.auto_reconcile(conn, actor, BANK, D))
    row = {"tenant_id": actor.tenant_id, "entry_id": entry.id, "posting_line_no": 1, "match_id": entry.id,
           "bank_account_code": BANK, "amount_minor": 1000, "effective_date": D}
    with pytest.raises(sa.exc.IntegrityError):
        run_in_transaction(engine, lambda conn: repository.insert_matches(conn, [], [], [row]))


def test_a_fee_booked_to_the_wrong_account_is_unbooked_and_booked_again(engine, actor) -> None:
    """Bank line: a 3.50 account fee. Booked to 5100 by mistake: unbooking reverses that entry (dated as it was)
    and frees the line; booked again to 5200 Bank charges, the books and the report tie out."""
    from ledger import errors as ledger_errors
    from ledger.model import AccountType

    run_in_transaction(engine, lambda conn: service.open_account(conn, actor, "5200", "Bank charges", AccountType.EXPENSE,
                                                                 parent_code="5000"))
    imported(engine, actor, samples.camt053([Item(D, Decimal("-3.50"), "F1", remittance="account fee")]))
    with engine.connect() as conn:
        (line,) = queries.lines_page(conn, actor.tenant_id, BANK)
    with pytest.raises(errors.NotBooked):
        run_in_transaction(engine, lambda conn: reconciling.unbook_line(conn, actor, BANK, line.id, None, "nothing booked yet"))
    wrong = run_in_transaction(engine, lambda conn: reconciling.book_line(conn, actor, BANK, line.id, "BANK_FEE", "5100", "fee"))
    with pytest.raises(ledger_errors.EntryOwnedByWorkflow):  # the journal's own reversal would leave the line matched
        run_in_transaction(engine, lambda conn: service.reverse_entry(conn, actor, wrong, D))

    reversal = run_in_transaction(engine, lambda conn: reconciling.unbook_line(
        conn, actor, BANK, line.id, None, "booked to credit losses by mistake"))
    with engine.connect() as conn:
        undone = service.get_entry(conn, actor.tenant_id, reversal)
        (freed,) = queries.lines_page(conn, actor.tenant_id, BANK)
    assert undone.reverses_entry_id == wrong and undone.effective_date == D
    assert sorted((p.account_code, p.amount_minor) for p in undone.postings) == [("1100", 350), ("5100", -350)]
    assert undone.metadata["workflow"] == "reconciliation" and freed.status == "UNMATCHED"
    with pytest.raises(errors.NotBooked):
        run_in_transaction(engine, lambda conn: reconciling.unbook_line(conn, actor, BANK, line.id, None, "twice"))

    right = run_in_transaction(engine, lambda conn: reconciling.book_line(conn, actor, BANK, line.id, "BANK_FEE", "5200", "fee"))
    with engine.connect() as conn:
        booked = service.get_entry(conn, actor.tenant_id, right)
        (matched,) = queries.lines_page(conn, actor.tenant_id, BANK)
        report = reconciliation_report(conn, actor.tenant_id, BANK, D)
        balances = {(line.account.code, line.debit_minor - line.credit_minor)
                    for line in ledger_queries.trial_balance(conn, actor.tenant_id).lines if line.account.code in ("5100", "5200")}
    assert right != wrong and booked.idempotency_key == f"bank-line:{line.id}:2"
    assert sorted((p.account_code, p.amount_minor) for p in booked.postings) == [("1100", -350), ("5200", 350)]
    assert matched.status == "MATCHED" and report.difference_minor == 0 and report.unbooked_bank_items_minor == 0
    assert balances == {("5200", 350)} or balances == {("5100", 0), ("5200", 350)}
