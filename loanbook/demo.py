"""`loanbook demo`: a realistic, reproducible loan book, built through the services every user calls.

A seeded random generator draws products (one per repayment method), borrowers, applications (some
rejected by an approver who is not the officer who submitted them), and for each loan a behaviour:
on time, late, partial (the rest two or three weeks on), early payoff, a bounced payment reversed days later, or a default that ages
through the delinquency buckets (the oldest is written off, and part of it recovered). The book then
runs day by day: the day's disbursements, payments and receipts, then close of business for the day.
Same seed, same dates, same books: every figure comes from the generator, none from the clock but
the last business date (yesterday, UTC), which the period ends on.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.engine import Connection, Engine

from ledger import queries as ledger_queries
from ledger import service as ledger_service
from ledger.actor import Actor
from ledger.money import currency_exponent
from ledger.sealing import sealing_deferred
from ledger.unit_of_work import run_in_transaction
from ledger.verify import verify_books
from loanbook.db import worker_engine
from loans import applications, borrowers, catalogue, money, suspense
from loans import queries as loan_queries
from loans.cob import cob_workers, run_close_of_business
from loans.errors import LoanClosed
from loans.pii import FieldCipher
from loans.portfolio import portfolio
from loans.state import LoanStatus
from loans.verify import verify_subledger

currency = "CNY"
loans_max = 200_000
months_max = 60
rejected_share = Decimal("0.08")
products = (
    # code, name, method, term range (months), annual rate
    ("CASH-EI", "Cash loan, equal installments (等额本息)", "EQUAL_INSTALLMENT", (6, 24), "0.18"),
    ("CASH-EP", "Cash loan, equal principal (等额本金)", "EQUAL_PRINCIPAL", (6, 24), "0.16"),
    ("BIZ-IO", "Business loan, interest first (先息后本)", "INTEREST_ONLY", (3, 12), "0.14"),
    ("BRIDGE", "Bridge loan, bullet repayment (一次性还本付息)", "BULLET", (1, 3), "0.12"),
    ("FLAT", "Consumer loan, flat rate", "FLAT", (3, 12), "0.08"),
)
surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
given = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚"
behaviours = (("on_time", 62), ("late", 14), ("partial", 6), ("early", 7), ("bounced", 5), ("default", 6))


@dataclass
class DemoSummary:
    tenant: str
    first_day: dt.date
    last_day: dt.date
    loans_by_status: dict[str, int]
    par30: str
    trial_balance_balanced: bool
    discrepancies: list[str]
    receipts: int
    written_off: int
    recovered: int
    events: int = 0

    @property
    def clean(self) -> bool:
        return self.trial_balance_balanced and not self.discrepancies


@dataclass
class _Plan:
    """What happens on which day: actions in the order they were planned."""

    days: dict[dt.date, list[Callable[[Connection], None]]] = field(default_factory=lambda: defaultdict(list))

    def on(self, day: dt.date, action: Callable[[Connection], None]) -> None:
        self.days[day].append(action)


def build_demo(
    engine: Engine, cipher: FieldCipher, *, tenant: str = "demo", loans: int = 300, months: int = 6, seed: int = 1,
    today: dt.date | None = None, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    progress: Callable[[int, int], None] | None = None, tenant_exists: bool = False, workers: int = 1,
) -> DemoSummary:
    """Create (or fill an empty) tenant `tenant` with `loans` applications over `months` months ending yesterday.

    `workers` processes close batches of loans at once in each close of business (PostgreSQL, once
    a date has more than one batch of active loans), as `loanbook cob --workers` does.
    """
    if not 1 <= loans <= loans_max:
        raise ValueError(f"--loans must be between 1 and {loans_max}")
    if not 1 <= months <= months_max:
        raise ValueError(f"--months must be between 1 and {months_max}")
    rng = random.Random(seed)
    last_day = (today or clock().date()) - dt.timedelta(days=1)
    first_day = last_day - dt.timedelta(days=round(months * 30.44))
    if not tenant_exists:
        run_in_transaction(engine, lambda c: ledger_service.create_tenant(
            c, tenant, "Demo Lending Co.", actor_name="loanbook demo", now=clock()))
    with engine.connect() as conn:
        tenant_id = ledger_service.tenant_id_for(conn, tenant)
    people = {name: (lambda n=name: Actor(tenant_id, n, clock())) for name in ("officer", "approver", "finance", "collector")}
    run_in_transaction(engine, lambda c: _products(c, people["officer"]()))
    plan = _Plan()
    counters = {"receipts": 0, "written_off": 0, "recovered": 0}
    loans_per_borrower = 1.3
    borrower_ids = run_in_transaction(engine, lambda c: [
        _borrower(c, people["officer"](), cipher, rng, n) for n in range(max(1, int(loans / loans_per_borrower)))
    ])
    window = max(1, int((last_day - first_day).days * 0.75))
    defaulters: list[tuple[dt.date, list[uuid.UUID]]] = []
    for n in range(loans):
        _plan_loan(plan, rng, people, borrower_ids, first_day + dt.timedelta(days=rng.randrange(window)), last_day, defaulters)
    for n in range(max(1, loans // 50)):
        day = first_day + dt.timedelta(days=rng.randrange((last_day - first_day).days + 1))
        amount, reference = _money(rng.randrange(200_00, 5000_00)), f"transfer from {rng.choice(surnames)}*{rng.randrange(10, 99)}"
        plan.on(day, lambda c, a=amount, r=reference, d=day: (
            suspense.receive_unidentified(c, people["finance"](), a, currency, d, r), counters.__setitem__("receipts", counters["receipts"] + 1)))
    _plan_write_off(plan, people, defaulters, last_day, counters)
    total_days = (last_day - first_day).days + 1
    events = 0
    # Hundreds of small transactions: their audit events are chained once, at the end, in batches;
    # one set of worker processes closes every date.
    with sealing_deferred(engine), cob_workers(engine, worker_engine, workers) as pool:
        for index in range(total_days):
            day = first_day + dt.timedelta(days=index)
            actions = plan.days.pop(day, [])
            if actions:  # the day's business in one transaction, in order: later actions read what earlier ones wrote
                run_in_transaction(engine, lambda c, day_actions=actions: [action(c) for action in day_actions])
            events += len(actions)
            run_close_of_business(engine, tenant_id, day, actor_name="cob", clock=clock, pool=pool)
            if progress is not None:
                progress(index + 1, total_days)
    summary = summarize(engine, tenant, tenant_id, first_day, last_day, counters)
    summary.events = events
    return summary


def summarize(engine: Engine, slug: str, tenant_id: int, first_day: dt.date, last_day: dt.date, counters: dict) -> DemoSummary:
    with engine.connect() as conn:
        by_status = loan_queries.loans_by_status(conn, tenant_id)
        books = portfolio(conn, tenant_id, last_day)
        balanced = ledger_queries.trial_balance(conn, tenant_id).balanced
        problems = [str(p) for p in verify_books(conn, [tenant_id]).discrepancies] + [str(p) for p in verify_subledger(conn, tenant_id)]
    par30 = next((p.par30 for p in books if p.currency == currency), "0.0000")
    return DemoSummary(slug, first_day, last_day, dict(sorted(by_status.items())), par30, balanced, problems,
                       counters["receipts"], counters["written_off"], counters["recovered"])


def _products(conn: Connection, officer: Actor) -> None:
    for code, name, method, (term_min, term_max), rate in products:
        catalogue.create_product(conn, officer, {
            "code": code, "name": name, "currency": currency, "method": method, "term_min": term_min, "term_max": term_max,
            "amount_min": "1000", "amount_max": "200000", "rate_max": "0.24", "origination_fee_rate": "0.01",
            "penalty_daily_rate": "0.0005", "late_fee": "50", "late_fee_grace_days": 3,
        })


def _borrower(conn: Connection, officer: Actor, cipher: FieldCipher, rng: random.Random, n: int) -> uuid.UUID:
    name = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(365 * 40))
    return borrowers.create_borrower(
        conn, officer, cipher, name=name, national_id=f"110105{birth:%Y%m%d}{n % 10_000:04d}",
        phone=f"13{rng.randrange(10**9):09d}", bank_account=f"6222{rng.randrange(10**15):015d}",
    )


def _plan_loan(plan: _Plan, rng: random.Random, people: dict, borrower_ids: list, day: dt.date, last_day: dt.date,
               defaulters: list) -> None:
    code, _, _, (term_min, term_max), rate = rng.choice(products)
    term, principal = rng.randint(term_min, term_max), rng.randrange(2000, 100_000, 500)
    borrower = rng.choice(borrower_ids)
    rejected = rng.random() < float(rejected_share)
    behaviour = rng.choices([b for b, _ in behaviours], weights=[w for _, w in behaviours])[0]
    draws = [rng.random() for _ in range(4)]  # drawn now, whatever happens later, so the plan stays reproducible
    loan: dict[str, uuid.UUID] = {}

    def originate(conn: Connection) -> None:
        loan["id"] = applications.submit_application(
            conn, people["officer"](), borrower_id=borrower, product_code=code, principal=str(principal), annual_rate=rate,
            term_periods=term, disbursement_date=day,
        )
        if rejected:
            applications.decide_application(conn, people["approver"](), loan["id"], LoanStatus.REJECTED, "debt to income too high")
            return
        applications.decide_application(conn, people["approver"](), loan["id"], LoanStatus.APPROVED)
        result = money.disburse_loan(conn, people["finance"](), loan["id"], day)
        rows = loan_queries.installments_by_schedule(conn, result.loan.tenant_id, [(loan["id"], result.loan.schedule_version)])
        _plan_payments(plan, people, loan["id"], rows[(loan["id"], result.loan.schedule_version)], behaviour, draws, last_day, defaulters)

    plan.on(day, originate)


def _plan_payments(plan: _Plan, people: dict, loan_id: uuid.UUID, installments: list, behaviour: str, draws: list,
                   last_day: dt.date, defaulters: list) -> None:
    """Schedule the loan's payments (planned at disbursement, for days still ahead of the book)."""
    paid_installments = len(installments)
    if behaviour == "default":
        paid_installments = int(draws[0] * 3)
        if paid_installments < len(installments):
            defaulters.append((installments[paid_installments].due_date, [loan_id]))
    payoff_at = 1 + int(draws[1] * max(1, len(installments) - 1)) if behaviour == "early" else None
    bounced_at = int(draws[2] * len(installments)) if behaviour == "bounced" else None
    for row in installments[:paid_installments]:
        due = row.principal + row.interest + row.fee
        pay_day, amount = row.due_date, due
        if behaviour == "late":
            pay_day += dt.timedelta(days=5 + int(draws[3] * 30))
        elif behaviour == "partial":
            amount = due * (50 + int(draws[3] * 30)) // 100
            # The rest follows 10 to 24 days later, before the next installment falls due: short, not lasting, arrears.
            rest_day = pay_day + dt.timedelta(days=10 + int(draws[3] * 15))
            if rest_day <= last_day:
                plan.on(rest_day, lambda c, d=rest_day, a=due - amount: _repay(c, people["collector"](), loan_id, a, d))
        if pay_day > last_day:
            return
        if payoff_at is not None and row.number == payoff_at:
            plan.on(pay_day, lambda c, d=pay_day: _pay_off(c, people["collector"](), loan_id, d))
            return
        if bounced_at is not None and row.number == bounced_at + 1:
            plan.on(pay_day, lambda c, d=pay_day, a=amount: _bounce(plan, c, people, loan_id, a, d, last_day))
            continue
        plan.on(pay_day, lambda c, d=pay_day, a=amount: _repay(c, people["collector"](), loan_id, a, d))


def _repay(conn: Connection, actor: Actor, loan_id: uuid.UUID, minor: int, day: dt.date) -> None:
    try:
        money.record_repayment(conn, actor, loan_id, _money(minor), currency, day)
    except LoanClosed:
        pass  # paid off or written off meanwhile: the planned payment does not come (nothing was written)


def _pay_off(conn: Connection, actor: Actor, loan_id: uuid.UUID, day: dt.date) -> None:
    if loan_queries.loan_row(conn, actor.tenant_id, loan_id).status is not LoanStatus.ACTIVE:
        return
    quote = money.payoff_quote(conn, actor.tenant_id, loan_id, day)
    money.pay_off_loan(conn, actor, loan_id, _money(quote.total), currency, day)


def _bounce(plan: _Plan, conn: Connection, people: dict, loan_id: uuid.UUID, minor: int, day: dt.date, last_day: dt.date) -> None:
    """A payment that the bank returns three days later: recorded, then reversed (the loan replays without it);
    the borrower pays again a week after the return."""
    if loan_queries.loan_row(conn, people["collector"]().tenant_id, loan_id).status is not LoanStatus.ACTIVE:
        return
    paid = money.record_repayment(conn, people["collector"](), loan_id, _money(minor), currency, day)
    returned, again = day + dt.timedelta(days=3), day + dt.timedelta(days=10)
    if returned <= last_day:
        plan.on(returned, lambda c: money.reverse_transaction(c, people["finance"](), loan_id, paid.transaction_id, returned))
    if again <= last_day:
        plan.on(again, lambda c: _repay(c, people["collector"](), loan_id, minor, again))


def _plan_write_off(plan: _Plan, people: dict, defaulters: list, last_day: dt.date, counters: dict) -> None:
    """The loan longest in default (90 days past due if one is), and a tenth of it recovered a fortnight on."""
    def write_off(conn: Connection) -> None:
        aged = sorted((due, ids[0]) for due, ids in defaulters if due < write_off_day)
        for _, loan_id in aged:
            if loan_queries.loan_row(conn, people["finance"]().tenant_id, loan_id).status is LoanStatus.ACTIVE:
                result = money.write_off_loan(conn, people["finance"](), loan_id, write_off_day)
                counters["written_off"] += 1
                recovered_on = write_off_day + dt.timedelta(days=14)
                share = max(1, result.allocation.principal // 10)
                plan.on(recovered_on, lambda c: (
                    money.record_recovery(c, people["collector"](), loan_id, _money(share), currency, recovered_on),
                    counters.__setitem__("recovered", counters["recovered"] + 1)))
                return

    write_off_day = last_day - dt.timedelta(days=21)
    plan.on(write_off_day, write_off)


def _money(minor: int) -> str:
    exponent = currency_exponent(currency)
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))
