"""Invariants of the reports over random books (hypothesis), on SQLite and PostgreSQL.

Each example books a year of random balanced entries and reversals (2024), closes the fiscal year,
books more (reversals of 2024 entries dated in 2025 among them), closes the books through 31 March
2025 and books the rest of 2025. Every step is recorded one second after the one before, so
`knownOn` can stop at any step. Then, at random dates and moments:

- the balance sheet ties to the trial balance: assets, liabilities and equity are the trial
  balance's accounts of that type, current earnings its income less expense, and assets =
  liabilities + equity + current earnings;
- the trial balance is the model's postings effective by `asOf` and recorded by `knownOn`, and the
  same report known on a moment after every recording is the report without `knownOn`;
- the income statement for a period is the change of retained earnings plus the unclosed result
  over it (a year-end close moves between the two and changes neither);
- the general-ledger detail, paged three lines at a time, opens at the trial balance of the day
  before its first day and ends at the trial balance of its last;
- more `knownOn` or a later `asOf` never leaves a posting out that an earlier one showed.
"""
from __future__ import annotations

import collections
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import periods, service
from ledger.actor import Actor
from ledger.model import AccountType, EntryDraft, NormalBalance, Posting
from ledger.queries import list_accounts
from ledger.unit_of_work import run_in_transaction
from reports import statements
from tests.conftest import new_tenant

D = dt.date
UTC = dt.timezone.utc
# Accounts of every type that accept any currency (the default chart's accept the functional one alone);
# not 3200: only year ends move it.
accounts_by_parent = {"1000": ["1150", "1250", "1260"], "2000": ["2150", "2250"], "3000": ["3150"],
                      "4000": ["4150", "4250"], "5000": ["5150"]}
account_types = {"1000": "ASSET", "2000": "LIABILITY", "3000": "EQUITY", "4000": "INCOME", "5000": "EXPENSE"}
codes = [code for children in accounts_by_parent.values() for code in children]
currencies = ["CNY", "JPY"]
start = dt.datetime(2026, 6, 1, tzinfo=UTC)  # the first recording; one second per step after it
RETAINED = "3200"
phases = [(D(2024, 1, 1), D(2024, 12, 31)), (D(2025, 1, 1), D(2025, 3, 31)), (D(2025, 4, 1), D(2025, 12, 31))]


@st.composite
def entry_legs(draw):
    currency = draw(st.sampled_from(currencies))
    amounts = draw(st.lists(st.integers(1, 10**7), min_size=1, max_size=3))
    legs = [Posting(draw(st.sampled_from(codes)), currency, a) for a in amounts]
    legs.append(Posting(draw(st.sampled_from(codes)), currency, -sum(amounts)))
    return tuple(legs)


def steps(draw_days):
    return st.lists(
        st.one_of(st.tuples(st.just("post"), entry_legs(), draw_days), st.tuples(st.just("reverse"), st.integers(0, 30), draw_days)),
        min_size=1, max_size=6,
    )


books = st.tuples(*(steps(st.dates(a, b)) for a, b in phases))
probes = st.tuples(
    st.lists(st.dates(D(2023, 12, 31), D(2026, 1, 31)), min_size=1, max_size=3),  # asOf
    st.lists(st.integers(-1, 40), min_size=1, max_size=3),  # knownOn: seconds after the first recording
    st.dates(D(2024, 1, 1), D(2025, 12, 31)), st.integers(0, 400),  # a period: first day, length
)


class Book:
    """The test's own model: every posting with its effective date and the moment it was recorded."""

    def __init__(self, engine) -> None:
        self.engine, self.tenant_id = engine, new_tenant(engine, "rprop")
        opener = Actor(self.tenant_id, "prop", start - dt.timedelta(seconds=1))

        def open_accounts(conn) -> None:
            for parent, children in accounts_by_parent.items():
                for code in children:
                    service.open_account(conn, opener, code, f"any currency {code}", account_types[parent], parent_code=parent)

        run_in_transaction(engine, open_accounts)
        self.step = 0
        self.postings: list[tuple[str, str, dt.date, int, dt.datetime]] = []
        self.entries: list = []
        self.reversed: set = set()

    def actor(self) -> Actor:
        self.step += 1
        return Actor(self.tenant_id, "prop", start + dt.timedelta(seconds=self.step), reason="property")

    def record(self, entry, moment: dt.datetime) -> None:
        self.postings += [(p.account_code, p.currency, entry.effective_date, p.amount_minor, moment) for p in entry.postings]

    def run(self, phase) -> None:
        for op in phase:
            actor = self.actor()
            if op[0] == "post":
                entry = run_in_transaction(self.engine, lambda c: service.post_entry(c, actor, EntryDraft(op[2], op[1], "prop")))
                self.entries.append(entry)
            else:
                targets = [e for e in self.entries if e.id not in self.reversed and e.reverses_entry_id is None]
                if not targets:
                    continue
                target = targets[op[1] % len(targets)]
                entry = run_in_transaction(self.engine, lambda c: service.reverse_entry(c, actor, target.id, op[2]))
                self.reversed.add(target.id)
                self.entries.append(entry)
            self.record(entry, actor.now)

    def close_year(self, year: int) -> None:
        actor = self.actor()
        done = run_in_transaction(self.engine, lambda c: periods.close_fiscal_year(c, actor, year, "year end"))
        if done.entry_id is not None:
            from ledger.queries import get_entry

            with self.engine.connect() as conn:
                self.record(get_entry(conn, self.tenant_id, done.entry_id), actor.now)

    def close_through(self, day: dt.date) -> None:
        actor = self.actor()
        run_in_transaction(self.engine, lambda c: periods.close_period(c, actor, day, "quarter"))

    def nets(self, as_of: dt.date, known_on: dt.datetime | None) -> dict[tuple[str, str], int]:
        sums: collections.Counter = collections.Counter()
        for code, currency, day, amount, moment in self.postings:
            if day <= as_of and (known_on is None or moment <= known_on):
                sums[(code, currency)] += amount
        return {k: v for k, v in sums.items() if v}


def by_type(chart, nets, types) -> dict[str, int]:
    """Totals per currency on the types' credit side for credit-normal types, debit side for assets."""
    sums: collections.Counter = collections.Counter()
    for (code, currency), net in nets.items():
        account = chart[code]
        if account.type in types:
            sums[currency] += net if account.normal_balance is NormalBalance.DEBIT else -net
    return {c: v for c, v in sums.items() if v}


def tb_nets(tb) -> dict[tuple[str, str], int]:
    return {(a.code, c): d - k for a, c, d, k in tb.lines if d != k}


def equity_and_result(chart, nets) -> dict[str, int]:
    """Retained earnings plus income less expense, per currency (credit side)."""
    sums: collections.Counter = collections.Counter()
    for (code, currency), net in nets.items():
        if code == RETAINED or chart[code].type in (AccountType.INCOME, AccountType.EXPENSE):
            sums[currency] -= net
    return sums


def check(book: Book, probe) -> None:
    as_ofs, offsets, first_day, length = probe
    moments = [None] + [start + dt.timedelta(seconds=s) for s in sorted(offsets)]
    last_recorded = start + dt.timedelta(seconds=book.step)
    tenant_id = book.tenant_id
    with book.engine.connect() as conn:
        chart = {a.code: a for a in list_accounts(conn, tenant_id)}
        for as_of in sorted(as_ofs):
            for known_on in moments[1:] + [last_recorded, None]:
                tb = statements.trial_balance(conn, tenant_id, as_of, known_on)
                nets = tb_nets(tb)
                assert nets == book.nets(as_of, known_on)
                assert all(d == k for d, k in tb.totals().values())
                bs = statements.balance_sheet(conn, tenant_id, as_of, known_on)
                assert {c: v for c, v in bs.assets.totals().items() if v} == by_type(chart, nets, {AccountType.ASSET})
                assert {c: v for c, v in bs.liabilities.totals().items() if v} == by_type(chart, nets, {AccountType.LIABILITY})
                assert {c: v for c, v in bs.equity.totals().items() if v} == by_type(chart, nets, {AccountType.EQUITY})
                result = by_type(chart, nets, {AccountType.INCOME})
                for c, v in by_type(chart, nets, {AccountType.EXPENSE}).items():
                    result[c] = result.get(c, 0) - v
                assert bs.current_earnings == {c: v for c, v in result.items() if v}
                assert bs.balanced()
            assert tb_nets(statements.trial_balance(conn, tenant_id, as_of, last_recorded)) == tb_nets(
                statements.trial_balance(conn, tenant_id, as_of))
        last_day = min(first_day + dt.timedelta(days=length), D(2025, 12, 31))
        for known_on in (moments[1], None):
            inc = statements.income_statement(conn, tenant_id, first_day, last_day, known_on)
            before = equity_and_result(chart, book.nets(first_day - dt.timedelta(days=1), known_on))
            after = equity_and_result(chart, book.nets(last_day, known_on))
            change = {c: after.get(c, 0) - before.get(c, 0) for c in set(before) | set(after)}
            assert {c: v for c, v in inc.net_income().items() if v} == {c: v for c, v in change.items() if v}
        check_gl_detail(conn, book, chart, first_day, last_day, moments[1:] + [None])


def check_gl_detail(conn, book: Book, chart, first_day: dt.date, last_day: dt.date, moments) -> None:
    """Each account's detail for each moment (ascending, None last), to the period's middle and end."""
    keys = sorted({(code, currency) for code, currency, *_ in book.postings})[:3]
    halfway = first_day + (last_day - first_day) // 2
    for code, currency in keys:
        shown = [[detail_lines(conn, book, chart[code], currency, first_day, day, moment) for day in (halfway, last_day)]
                 for moment in moments]
        # Knowing more, or reading to a later date, never leaves out a line shown before.
        for (early_half, early_whole), (late_half, late_whole) in zip(shown, shown[1:]):
            assert early_half <= early_whole and early_half <= late_half and early_whole <= late_whole
        assert shown[-1][0] <= shown[-1][1]


def detail_lines(conn, book: Book, account, currency: str, first_day: dt.date, last_day: dt.date, moment) -> set:
    """Page through the detail three lines at a time; it opens at the balance of the day before its
    first day, runs line by line and closes at the balance of its last. Returns the lines shown."""
    sign = 1 if account.normal_balance is NormalBalance.DEBIT else -1
    key = (account.code, currency)
    page = statements.general_ledger_detail(conn, book.tenant_id, account, currency, first_day, last_day,
                                            known_on=moment, limit=3)
    assert page.opening_minor == sign * book.nets(first_day - dt.timedelta(days=1), moment).get(key, 0)
    lines, running = list(page.lines), page.opening_minor
    while page.next_cursor is not None:
        page = statements.general_ledger_detail(conn, book.tenant_id, account, currency, first_day, last_day,
                                                known_on=moment, after=page.next_cursor, limit=3)
        lines += page.lines
    for line in lines:
        running += sign * line.line.amount_minor
        assert line.running_minor == running
    assert page.closing_minor == running == sign * book.nets(last_day, moment).get(key, 0)
    return {(line.line.entry_id, line.line.line_no) for line in lines}


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_reports_tie_to_the_trial_balance_on_random_books(request, db):
    from loanbook.db import make_engine

    engine = make_engine(request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url"))

    @settings(max_examples=12 if db == "sqlite" else 6, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(books, probes)
    def run(phases_drawn, probe):
        book = Book(engine)
        book.run(phases_drawn[0])
        book.close_year(2024)
        book.run(phases_drawn[1])
        book.close_through(D(2025, 3, 31))
        book.run(phases_drawn[2])
        check(book, probe)

    try:
        run()
    finally:
        engine.dispose()
