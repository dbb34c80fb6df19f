"""`loanbook report NAME` and `loanbook export-beancount`: the books for examiners and finance tools."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys

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
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from reports.tables import build

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        tenant_id = service.tenant_id_for(conn, args.tenant)
        columns, rows = build(conn, tenant_id, args.name, args.as_of, known_on=args.known_on, date_from=args.date_from,
                              account=args.account, currency=args.currency)
        if args.format == "csv":
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
        else:
            for row in rows:  # JSON Lines: one object per row, streamed
                sys.stdout.write(json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n")
    return 0
