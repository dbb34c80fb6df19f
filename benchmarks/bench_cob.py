"""Close-of-business benchmark on PostgreSQL: loans per second for one business date.

    .venv/bin/python benchmarks/bench_cob.py                  # 100,000 active loans (about 2 minutes to seed)
    .venv/bin/python benchmarks/bench_cob.py --loans 5000     # a quick look

Creates its own database (`loanbook_bench_cob_<random>`) on --pg-url and drops it afterwards. Loans
are seeded in bulk (schedules from the real `schedules` package, installments written with COPY,
disbursements posted as journal entries so the sub-ledger equals the GL), all disbursed the day
before the business date; each then needs a day's accrual, ageing, classification and a first
provision. After the run the sub-ledger is checked against the GL.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from ledger import service as ledger  # noqa: E402
from ledger.actor import Actor  # noqa: E402
from ledger.ids import uuid7  # noqa: E402
from ledger.model import EntryDraft, Posting  # noqa: E402
from ledger.money import to_minor  # noqa: E402
from ledger.unit_of_work import run_in_transaction  # noqa: E402
from loanbook.db import make_engine, scratch_database  # noqa: E402
from loanbook.migrate import upgrade  # noqa: E402
from loans import borrowers, catalogue  # noqa: E402
from loans.booking import Application, installments_from, schedule_for  # noqa: E402
from loans.cob import run_close_of_business  # noqa: E402
from loans.pii import FieldCipher  # noqa: E402
from loans.products import origination_fee  # noqa: E402
from loans.verify import verify_subledger  # noqa: E402

business_date = dt.date(2026, 3, 2)  # the first date closed; --days closes the following ones too
target_seconds = 20.0
target_loans_per_second = 5000
seed_batch = 10_000


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="COB worker processes (this machine has 2 cores)")
    parser.add_argument("--days", type=int, default=2, help="consecutive business dates to close (each timed)")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = f"loanbook_bench_cob_{uuid.uuid4().hex[:8]}"
    with scratch_database(args.pg_url, name, keep=args.keep) as url:
        engine = make_engine(url, pool_size=4)
        try:
            upgrade(engine)
            tenant_id = seed(engine, args.loans)
            run(engine, tenant_id, args.loans, args.batch_size, args.workers, args.days)
        finally:
            engine.dispose()
    return 0


def seed(engine: sa.Engine, count: int) -> int:
    started = time.perf_counter()
    tenant_id = run_in_transaction(engine, lambda c: ledger.create_tenant(c, "bench", "COB bench", actor_name="bench", now=now()))
    actor = Actor(tenant_id, "bench", now())
    product = run_in_transaction(engine, lambda c: catalogue.create_product(c, actor, {
        "code": "CASH12", "name": "Cash loan", "currency": "CNY", "origination_fee_rate": "0.01",
        "penalty_daily_rate": "0.0005", "late_fee": "30", "late_fee_grace_days": 3, "amount_max": "200000",
    }))
    borrower = run_in_transaction(engine, lambda c: borrowers.create_borrower(c, actor, FieldCipher(b"b" * 32), name="Bench borrower"))
    rng = random.Random(7)
    disbursed_on = business_date - dt.timedelta(days=1)
    for start in range(0, count, seed_batch):
        size = min(seed_batch, count - start)
        loans, installments, totals = [], [], [0, 0, 0]
        for _ in range(size):
            principal = Decimal(rng.randrange(1_000, 100_000))
            rate = Decimal(rng.choice(["0.08", "0.12", "0.18", "0.24"]))
            schedule = schedule_for(product, Application(principal, rate, 12, disbursed_on))
            loan_id = uuid7()  # time-ordered, as loans.applications.submit_application mints them
            fee = to_minor(origination_fee(product, principal), "CNY")
            financed = to_minor(schedule.financed_principal, "CNY")
            totals[0] += financed
            totals[1] += financed - fee
            totals[2] += fee
            loans.append((tenant_id, loan_id, borrower, "CASH12", product.version, "ACTIVE", "CNY", str(principal), str(rate), 12,
                          disbursed_on, str(schedule.annualized_rate), "bench", "bench", disbursed_on, 1, financed, disbursed_on,
                          now(), now()))
            for i in installments_from(schedule):
                installments.append((tenant_id, loan_id, 1, i.number, i.due_date, i.accrual_start, i.accrual_end,
                                     i.principal, i.interest, i.fee))
        copy_rows(engine, loans, installments)
        draft = EntryDraft(disbursed_on, (Posting("1200", "CNY", totals[0]), Posting("1100", "CNY", -totals[1]),
                                          Posting("4200", "CNY", -totals[2])), f"bench disbursements {start}", {"bench": True})
        run_in_transaction(engine, lambda c: ledger.post_entry(c, actor, draft))
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    print(f"seeded {count:,} active loans (12 monthly installments each) in {time.perf_counter() - started:.1f} s")
    return tenant_id


def copy_rows(engine: sa.Engine, loans: list[tuple], installments: list[tuple]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(
            "COPY loans (tenant_id, id, borrower_id, product_code, product_version, status, currency, principal_requested,"
            " annual_rate, term_periods, expected_disbursement_date, annualized_rate, submitted_by, decided_by, disbursed_on,"
            " schedule_version, principal, last_cob_date, created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in loans:
                copy.write_row(row)
        with cursor.copy(
            "COPY loan_installments (tenant_id, loan_id, schedule_version, number, due_date, accrual_start, accrual_end,"
            " principal, interest, fee) FROM STDIN"
        ) as copy:
            for row in installments:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def worker_engine(url: str) -> sa.Engine:
    return make_engine(url, pool_size=1)


def run(engine: sa.Engine, tenant_id: int, count: int, batch_size: int, workers: int, days: int) -> None:
    timings = []
    for offset in range(days):
        day = business_date + dt.timedelta(days=offset)
        started = time.perf_counter()
        summary = run_close_of_business(
            engine, tenant_id, day, batch_size=batch_size, workers=workers, engine_factory=worker_engine,
        )
        seconds = time.perf_counter() - started
        timings.append(seconds)
        print(f"close of business {day}: {summary.loans_processed:,} loans in {seconds:.2f} s = "
              f"{summary.loans_processed / seconds:,.0f} loans/s ({summary.entries_posted} journal entries, "
              f"batch size {batch_size}, {workers} worker process(es))")
    with engine.connect() as conn:
        problems = verify_subledger(conn, tenant_id)
    again = time.perf_counter()
    repeat = run_close_of_business(engine, tenant_id, business_date + dt.timedelta(days=days - 1))
    repeat_seconds = time.perf_counter() - again
    print(f"second run of the last date: already_done={repeat.already_done} in {repeat_seconds * 1000:.1f} ms")
    print(f"sub-ledger equals GL after the runs: {'yes' if not problems else 'NO: ' + '; '.join(problems[:3])}")
    best = min(timings)
    scaled = best * 100_000 / count
    verdict = "PASS" if scaled < target_seconds else "FAIL"
    print(f"target: < {target_seconds:.0f} s for 100,000 loans (>= {target_loans_per_second:,} loans/s): "
          f"best date {best:.2f} s for {count:,} loans ({count / best:,.0f} loans/s): {verdict}"
          + ("" if count == 100_000 else f" (scaled to 100,000: {scaled:.1f} s)"))


if __name__ == "__main__":
    sys.exit(main())
