"""Reports and Beancount export benchmark on PostgreSQL: prints figures against the targets.

    .venv/bin/python benchmarks/bench_reports.py                      # 1,000,000 postings (the target size)
    .venv/bin/python benchmarks/bench_reports.py --postings 20000     # a quick look

It creates its own database (`loanbook_bench_<random>`) on --pg-url, imports the postings through
ledger.service.import_entries (two postings per entry, over three years and --accounts accounts),
then times: the balance sheet and the income statement as of a date (target < 50 ms each, median
of --repeat runs, after ANALYZE), a 100-row page of general-ledger detail (target < 50 ms), the same balance sheet
as known on a moment (summed from postings: proportional to them), the Beancount export (seconds
and peak memory of the exporting process; target < 30 s for 1M postings) and bean-check's own
load of that file, side by side.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from ledger import service  # noqa: E402
from ledger.actor import Actor  # noqa: E402
from ledger.model import EntryDraft, credit, debit  # noqa: E402
from ledger.queries import load_accounts  # noqa: E402
from ledger.unit_of_work import run_in_transaction  # noqa: E402
from loanbook.db import make_engine, scratch_database  # noqa: E402
from loanbook.migrate import upgrade  # noqa: E402
from reports import statements  # noqa: E402
from reports.beancount import export_beancount  # noqa: E402

first_day = dt.date(2023, 1, 1)
days = 3 * 365
target_ms = 50.0
target_export_seconds_per_million = 30.0
pairs = [("1200", "1100"), ("1100", "4100"), ("1100", "4200"), ("5100", "1290"), ("1210", "4100"), ("1100", "1200")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg-url", default=os.environ.get("LOANBOOK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--postings", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--batch", type=int, default=10_000, help="entries per import batch")
    return p.parse_args(argv)


def timed_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def seed(engine, tenant_id: int, postings: int, batch: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    entries = postings // 2
    actor = Actor(tenant_id, "bench", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    done = 0
    while done < entries:
        n = min(batch, entries - done)
        drafts = []
        for i in range(n):
            dr, cr = pairs[(done + i) % len(pairs)]
            amount = f"{rng.randint(100, 500000) / 100:.2f}"
            day = first_day + dt.timedelta(days=(done + i) * days // entries)
            drafts.append(EntryDraft(day, (debit(dr, amount, "CNY"), credit(cr, amount, "CNY")), f"bench {done + i}"))
        run_in_transaction(engine, lambda c, d=drafts: service.import_entries(c, actor, d, reference="bench"))
        done += n


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_database(args.pg_url, f"loanbook_bench_{uuid.uuid4().hex[:10]}") as url:
        engine = make_engine(url)
        upgrade(engine)
        now = dt.datetime.now(dt.timezone.utc)
        tenant_id = run_in_transaction(engine, lambda c: service.create_tenant(c, "bench", "Bench", actor_name="bench", now=now))
        start = time.perf_counter()
        print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} before seeding")
        seed(engine, tenant_id, args.postings, args.batch)
        print(f"seeded {args.postings:,} postings in {time.perf_counter() - start:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f}")
        # Planner statistics, as autovacuum gathers them soon after a bulk load: without them the GL
        # page's plan sorts the account's whole date range instead of reading the index in order.
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
        as_of, known = dt.date(2025, 6, 30), dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        with engine.connect() as conn:
            cash = load_accounts(conn, tenant_id, ["1100"])["1100"]
            figures = {
                "balance sheet as of": timed_ms(lambda: statements.balance_sheet(conn, tenant_id, as_of), args.repeat),
                "income statement (a year)": timed_ms(
                    lambda: statements.income_statement(conn, tenant_id, dt.date(2024, 7, 1), as_of), args.repeat),
                "GL detail, 100-row page": timed_ms(
                    lambda: statements.general_ledger_detail(conn, tenant_id, cash, "CNY", dt.date(2024, 3, 1), as_of, limit=100),
                    args.repeat),
            }
            known_ms = timed_ms(lambda: statements.balance_sheet(conn, tenant_id, as_of, known_on=known), max(1, args.repeat // 5))
            bs = statements.balance_sheet(conn, tenant_id, as_of)
            assert bs.balanced()
        for name, ms in figures.items():
            print(f"{name:<28} {ms:8.2f} ms   target < {target_ms:.0f} ms   ratio {ms / target_ms:5.2f}  {'ok' if ms < target_ms else 'MISSED'}")
        print(f"{'balance sheet as known on':<28} {known_ms:8.2f} ms   (sums postings: proportional to them)")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.beancount"
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            with path.open("w", encoding="utf-8") as out:
                count = export_beancount(engine, tenant_id, out)
            export_s = time.perf_counter() - start
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            size_mb = path.stat().st_size / 1e6
            target_s = target_export_seconds_per_million * args.postings / 1_000_000
            print(f"export-beancount: {count:,} transactions, {size_mb:.1f} MB in {export_s:.2f} s "
                  f"(target {target_s:.1f} s at this size, ratio {export_s / target_s:.2f}); "
                  f"peak RSS {rss_after / 1024:.0f} MB (grew {max(0, rss_after - rss_before) / 1024:.0f} MB)")
            program = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
            if Path(program).exists():
                start = time.perf_counter()
                checked = subprocess.run([program, str(path)], capture_output=True, text=True)
                check_s = time.perf_counter() - start
                child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                print(f"bean-check load + check:   {check_s:.2f} s ({'passed' if checked.returncode == 0 else 'FAILED'}); "
                      f"export / bean-check = {export_s / check_s:.2f}; bean-check peak RSS {child_rss / 1024:.0f} MB")
            else:
                print("bean-check not installed (pip install 'beancount>=3'): load time not measured")
        engine.dispose()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
