"""`loanbook report NAME` and `loanbook export-beancount`: the books for examiners and finance tools."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import uuid

from ledger import service
from loanbook.db import make_engine
from loanbook.settings import Settings


def _moment(text: str) -> dt.datetime:
    """An ISO timestamp; one without a zone is UTC; a bare date means the end of that day (UTC)."""
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return dt.datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _loan_id(text: str) -> uuid.UUID:
    """A loan's UUID, or the opaque Loan id the API shows."""
    try:
        return uuid.UUID(text)
    except ValueError:
        pass
    from graphql_api.core.errors import BadUserInput
    from graphql_api.core.scalars import decode_id

    try:
        return decode_id("Loan", text)
    except BadUserInput:
        raise argparse.ArgumentTypeError(f"{text!r} is not a loan id") from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    from reports.tables import report_names

    p = sub.add_parser("report", help="print a report as of a date (and as known on a moment) as CSV or JSON")
    p.add_argument("name", choices=report_names)
    p.add_argument("--tenant", required=True)
    p.add_argument("--as-of", type=dt.date.fromisoformat, required=True, help="effective date (YYYY-MM-DD)")
    p.add_argument("--known-on", type=_moment, help="leave out entries recorded after this moment (ISO timestamp, UTC)")
    p.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, help="income-statement, gl-detail: first day")
    p.add_argument("--account", help="gl-detail: the account code")
    p.add_argument("--currency", help="gl-detail: the currency")
    p.add_argument("--loan", type=_loan_id, help="loan-statement: the loan (its id, or the API's Loan id)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from reports.tables import build

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, args.tenant)
        columns, rows = build(conn, tenant_id, args.name, args.as_of, known_on=args.known_on, date_from=args.date_from,
                              account=args.account, currency=args.currency, loan_id=args.loan)
        if args.format == "csv":
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
        else:
            for row in rows:  # JSON Lines: one object per row, streamed
                sys.stdout.write(json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n")
    return 0


def add_export_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-beancount", help="write a tenant's books as a Beancount file (bean-check proves the balances)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, help="first day (opening balances brought in)")
    p.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, help="last day")
    p.add_argument("--out", help="file to write (default standard output)")
    p.set_defaults(handler=cmd_export_beancount)

    p = sub.add_parser("fava", help="export a tenant's books and serve them with Fava on loopback (pip install 'loanbook[fava]')")
    p.add_argument("--tenant", required=True)
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(handler=cmd_fava)


def _export(args: argparse.Namespace, settings: Settings, out) -> int:  # type: ignore[no-untyped-def]
    from reports.beancount import export_beancount

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, args.tenant)
    return export_beancount(engine, tenant_id, out, date_from=getattr(args, "date_from", None), date_to=getattr(args, "date_to", None))


def cmd_export_beancount(args: argparse.Namespace, settings: Settings) -> int:
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            count = _export(args, settings, out)
        print(f"wrote {count} transaction(s) of {args.tenant} to {args.out}", file=sys.stderr)
    else:
        _export(args, settings, sys.stdout)
    return 0


def fava_program() -> str | None:
    """Fava's program: the one installed beside loanbook's Python (the extra), else one on PATH."""
    import shutil
    from pathlib import Path

    beside = Path(sys.executable).with_name("fava")
    return str(beside) if beside.exists() else shutil.which("fava")


def cmd_fava(args: argparse.Namespace, settings: Settings) -> int:
    import signal
    import subprocess
    import tempfile

    fava = fava_program()
    if fava is None:
        print("error: Fava is not installed: pip install 'loanbook[fava]'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="loanbook-fava-") as folder:
        path = f"{folder}/{args.tenant}.beancount"
        with open(path, "w", encoding="utf-8") as out:
            _export(args, settings, out)
        print(f"serving {args.tenant} on http://127.0.0.1:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
        process = subprocess.Popen([fava, "--host", "127.0.0.1", "--port", str(args.port), path])
        stopped = []

        def stop(signum, frame):  # type: ignore[no-untyped-def]
            # Stopped by a signal: stop Fava too, so no server outlives the export it serves.
            stopped.append(signum)
            process.terminate()

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            stopped.append(signal.SIGINT)
            process.terminate()
            code = process.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)
        return 0 if stopped else code
