"""A Chinese bank's CSV or Excel export with its running balance (余额), totals rows and dashes for empty cells."""
from __future__ import annotations

import datetime as dt

import pytest

from ledger.unit_of_work import run_in_transaction
from reconciliation import errors, importing
from reconciliation.parsing import parse_statement
from reconciliation.tabular import ColumnMapping

mapping = ColumnMapping.from_json("ccb", {
    "currency": "CNY", "encoding": "gb18030", "header_rows_skip": 2, "footer_rows_skip": 1, "date": "交易日期",
    "date_format": "%Y%m%d", "debit": "支出", "credit": "收入", "balance": "余额", "reference": "流水号",
    "counterparty": "对方户名", "remittance": "摘要",
})
header = ["某某银行 活期账户交易明细", "账号: 6217000000000001,,,,,,", "交易日期,支出,收入,余额,流水号,对方户名,摘要"]
rows = [  # oldest first, as most exports list them
    "20260302,-,1500.50,11500.50,B001,张三,还款 LN-1",
    "20260303,25.00,--,11475.50,B002,,手续费",
    "20260303,-,0.01,11475.51,B003,李四,结息",
]
footer = ["合计,25.00,1500.51,,,,"]


def export(lines: list[str], *, closing_rows: list[str] = footer) -> bytes:
    return ("\r\n".join(header + lines + closing_rows) + "\r\n").encode("gb18030")


def test_the_running_balance_gives_the_opening_and_closing_balances() -> None:
    statement = parse_statement(export(rows), "csv", mapping)
    assert [line.amount_minor for line in statement.lines] == [150050, -2500, 1]
    assert (statement.opening_minor, statement.closing_minor) == (1_000_000, 1_147_551)
    assert (statement.opening_date, statement.closing_date) == (dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    assert [line.bank_reference for line in statement.lines] == ["B001", "B002", "B003"]


def test_an_export_listing_the_newest_first_is_read_in_date_order() -> None:
    statement = parse_statement(export(rows[::-1]), "csv", mapping)
    assert [line.bank_reference for line in statement.lines] == ["B001", "B002", "B003"]
    assert (statement.opening_minor, statement.closing_minor) == (1_000_000, 1_147_551)


def test_a_balance_that_does_not_follow_names_its_row() -> None:
    broken = [rows[0], rows[1].replace("11475.50", "11470.50"), rows[2].replace("11475.51", "11470.51")]
    with pytest.raises(errors.StatementUnbalanced, match=r"row 5: the balance 11470\.50 is not") as raised:
        parse_statement(export(broken), "csv", mapping)
    assert raised.value.details["difference_minor"] == -500


def test_without_the_footer_setting_the_totals_row_is_refused_by_its_number() -> None:
    plain = ColumnMapping.from_json("ccb", {**mapping.to_json(), "footer_rows_skip": 0})
    with pytest.raises(errors.StatementMalformed, match="row 7: '合计' is not a date"):
        parse_statement(export(rows), "csv", plain)


@pytest.mark.parametrize("value", [-1, 51, "2", True, 1.5])
def test_the_rows_to_skip_are_whole_numbers_within_bounds(value) -> None:
    with pytest.raises(errors.UnknownMapping, match="footer_rows_skip must be a whole number"):
        ColumnMapping.from_json("x", {**mapping.to_json(), "footer_rows_skip": value})


def test_the_next_export_must_continue_the_balance_the_last_one_closed_with(engine, actor) -> None:
    def imported(content: bytes):
        return run_in_transaction(engine, lambda conn: importing.import_statement(
            conn, actor, "1100", content, fmt="csv", mapping_name="ccb"))

    run_in_transaction(engine, lambda conn: importing.save_mapping(conn, actor, "ccb", mapping.to_json()))
    assert imported(export(rows)).lines_added == 3
    later = ["20260305,-,100.00,11575.51,B004,王五,还款 LN-2"]
    assert imported(export(later)).lines_added == 1
    gap = ["20260306,-,10.00,11600.00,B005,王五,还款 LN-2"]
    with pytest.raises(errors.StatementDiscontinuous):
        imported(export(gap))
