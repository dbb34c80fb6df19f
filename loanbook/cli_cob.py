"""`loanbook cob` and `loanbook demo`: close of business for one date or through a date, and the sample loan book."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

import sqlalchemy as sa

from ledger import service
from ledger.store.tables import tenants
from ledger.verify import discrepancies_shown_max
from loanbook.db import make_engine, worker_engine
from loanbook.migrate import upgrade
from loanbook.settings import Settings


def add_cob_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cob", help="close of business: accrue, age, penalise, classify and provision every active loan")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=dt.date.fromisoformat, help="the one business date to close (YYYY-MM-DD)")
    when.add_argument("--through", type=dt.date.fromisoformat, metavar="DATE",
                      help="catch up: close every pending business date in order through DATE (resumes if interrupted)")
    p.add_argument("--tenant", help="only this tenant (slug); default every tenant")
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes closing batches at once (PostgreSQL)")
    p.set_defaults(handler=cmd_cob)

    p = sub.add_parser("demo", help="create a tenant with a realistic, reproducible loan book (same seed, same books)")
    p.add_argument("--tenant", default="demo", help="slug of the tenant to create (default demo)")
    p.add_argument("--loans", type=int, default=300, help="applications to make (default 300)")
    p.add_argument("--months", type=int, default=6, help="months of history, ending yesterday (default 6)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes closing batches of loans at once in close of business (PostgreSQL)")
    p.set_defaults(handler=cmd_demo)


def cmd_cob(args: argparse.Namespace, settings: Settings) -> int:
    from loans.cob import run_close_of_business

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        slugs = [args.tenant] if args.tenant else list(conn.execute(sa.select(tenants.c.slug).order_by(tenants.c.slug)).scalars())
        ids = {slug: service.tenant_id_for(conn, slug) for slug in slugs}
    if args.through is not None:
        return _cob_through(args, engine, ids)
    for slug, tenant_id in ids.items():
        with progress_bar(f"COB {args.date} {slug}") as progress:
            summary = run_close_of_business(
                engine, tenant_id, args.date, actor_name="cob-cli", batch_size=args.batch_size, progress=progress,
                workers=args.workers, engine_factory=worker_engine,
            )
        if summary.already_done:
            print(f"{slug}: {args.date} was already closed; nothing changed")
            continue
        print(
            f"{slug}: closed {args.date}{' (resumed)' if summary.resumed else ''}: {summary.loans_processed} loans, "
            f"{summary.entries_posted} journal entries, {summary.entered_non_accrual} moved to non-accrual"
        )
    return 0


def _cob_through(args: argparse.Namespace, engine: sa.Engine, ids: dict[str, int]) -> int:
    from loans.cob_catch_up import run_close_of_business_through

    for slug, tenant_id in ids.items():
        with progress_bar(f"COB {slug} through {args.through}", unit="dates") as progress:
            def closed(index: int, count: int, summary) -> None:  # noqa: ANN001
                progress(index, count)
                if not sys.stdout.isatty():
                    print(f"{slug}: closed {summary.business_date} ({index}/{count}): {summary.loans_processed} loans", flush=True)

            summaries = run_close_of_business_through(
                engine, tenant_id, args.through, on_date=closed, actor_name="cob-cli", batch_size=args.batch_size,
                workers=args.workers, engine_factory=worker_engine,
            )
        if not summaries:
            print(f"{slug}: every date through {args.through} was already closed; nothing changed")
            continue
        print(
            f"{slug}: closed {len(summaries)} business date(s), {summaries[0].business_date} to {summaries[-1].business_date}: "
            f"{sum(s.entries_posted for s in summaries)} journal entries, "
            f"{sum(s.entered_non_accrual for s in summaries)} moved to non-accrual"
        )
    return 0


class progress_bar:
    """A rich progress bar on a terminal; silent otherwise (logs and CI stay clean)."""

    def __init__(self, label: str, unit: str = "loans") -> None:
        self.label, self.unit, self.bar, self.task = label, unit, None, None

    def __enter__(self):
        if sys.stdout.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from loanbook.demo import build_demo
    from loanbook.settings import field_cipher

    engine = make_engine(settings.database_url)
    cipher = field_cipher(settings)
    upgrade(engine, cipher=cipher)
    try:
        with progress_bar(f"demo {args.tenant}", unit="days") as progress:
            summary = build_demo(engine, cipher, tenant=args.tenant, loans=args.loans, months=args.months,
                                 seed=args.seed, progress=progress, workers=args.workers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_demo_summary(summary)
    return 0 if summary.clean else 1


def print_demo_summary(summary) -> None:  # noqa: ANN001
    statuses = ", ".join(f"{count} {status.lower()}" for status, count in summary.loans_by_status.items())
    print(f"demo tenant {summary.tenant!r}: business dates {summary.first_day} to {summary.last_day} closed")
    print(f"  loans: {statuses}")
    print(f"  PAR30: {summary.par30}; {summary.written_off} written off, {summary.recovered} recovery(ies), "
          f"{summary.receipts} unidentified receipt(s) in suspense")
    print(f"  trial balance: {'balanced' if summary.trial_balance_balanced else 'NOT BALANCED'}; "
          f"verify: {'clean' if not summary.discrepancies else f'{len(summary.discrepancies)} discrepancy(ies)'}")
    for problem in summary.discrepancies[:discrepancies_shown_max]:
        print(f"  DISCREPANCY: {problem}")
