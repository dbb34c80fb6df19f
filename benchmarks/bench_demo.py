"""Demo loan book benchmark on PostgreSQL: seconds to build `loanbook demo --loans N --months M`.

    .venv/bin/python benchmarks/bench_demo.py                           # 10,000 loans over 12 months
    .venv/bin/python benchmarks/bench_demo.py --loans 200 --months 3    # a quick look

Creates its own database (`loanbook_bench_demo_<random>`) on --pg-url and drops it afterwards, then
builds the book exactly as the command does: every application, decision, disbursement, payment,
reversal and receipt through the loan services, close of business for every day. Prints the time,
loans and business days per second, and the ratio to the target.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import re
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from loanbook.db import make_engine, scratch_database  # noqa: E402
from loanbook.demo import build_demo  # noqa: E402
from loanbook.migrate import upgrade  # noqa: E402
from loans.pii import FieldCipher  # noqa: E402

target_seconds = 120.0  # for 10,000 loans over 12 months
results_path = Path(__file__).resolve().parent / "RESULTS.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="close-of-business worker processes, as `loanbook demo --workers` (default: one per core)")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-write", action="store_true", help="do not record the figures in benchmarks/RESULTS.md")
    args = parser.parse_args()
    cipher = FieldCipher(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"b" * 32)))
    with scratch_database(args.pg_url, f"loanbook_bench_demo_{uuid.uuid4().hex[:8]}") as url:
        engine = make_engine(url, pool_size=2)
        try:
            upgrade(engine)
            with engine.connect() as conn:
                server_version = conn.execute(sa.text("SHOW server_version")).scalar()
            started = time.perf_counter()
            summary = build_demo(engine, cipher, loans=args.loans, months=args.months, seed=args.seed, workers=args.workers)
            seconds = time.perf_counter() - started
        finally:
            engine.dispose()
    days = (summary.last_day - summary.first_day).days + 1
    scaled_target = target_seconds * (args.loans / 10_000) * (args.months / 12)
    lines = [
        f"demo --loans {args.loans} --months {args.months} --workers {args.workers} on PostgreSQL: {seconds:.1f} s "
        f"({args.loans / seconds:.0f} loans/s, {days / seconds:.1f} business days/s, {summary.events} events)",
        f"  books: {summary.loans_by_status}; PAR30 {summary.par30}; {'clean' if summary.clean else 'NOT CLEAN'}",
        f"  target {target_seconds:.0f} s for 10,000 loans x 12 months; scaled to this size {scaled_target:.1f} s: "
        f"ratio {seconds / scaled_target:.2f} (below 1 meets it)",
    ]
    print("\n".join(lines))
    if not args.no_write:
        machine = f"{dt.date.today().isoformat()}, {os.cpu_count()} cores, PostgreSQL {server_version}"
        write_results(f"## `bench_demo.py`\n\nMeasured {machine}:\n\n```\n" + "\n".join(lines) + "\n```\n")
    return 0 if summary.clean else 1


def write_results(section: str) -> None:
    """Replace this script's section of RESULTS.md (or add it at the end)."""
    text = results_path.read_text(encoding="utf-8") if results_path.exists() else "# Latest benchmark figures\n"
    pattern = re.compile(r"^## `bench_demo.py`\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    results_path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
