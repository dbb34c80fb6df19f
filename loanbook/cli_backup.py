"""`loanbook backup` and `loanbook restore`: thin entry points over loanbook.backup."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from loanbook.backup import BackupError, backup_database, restore_database
from loanbook.db import normalise_url
from loanbook.settings import Settings


def add_backup_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="write the whole database to one file (pg_dump custom format, or a SQLite copy)")
    p.add_argument("--output", required=True, type=Path, help="the backup file to create (never overwritten)")
    p.add_argument("--database-url", help="the database to back up (default LOANBOOK_DATABASE_URL)")
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup into a new, empty database (refused if it holds tables)")
    p.add_argument("file", type=Path, help="a file made by `loanbook backup`")
    p.add_argument("--database-url", help="the empty database to restore into (default LOANBOOK_DATABASE_URL)")
    p.set_defaults(handler=cmd_restore)


def _shown(url: str) -> str:
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    url = args.database_url or settings.database_url
    try:
        done = backup_database(url, args.output)
    except BackupError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(f"backed up {_shown(url)} to {done.path} ({done.size_bytes:,} bytes, {done.backend})")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    url = args.database_url or settings.database_url
    try:
        restore_database(args.file, url)
    except BackupError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(f"restored {args.file} into {_shown(url)}; `loanbook verify` and `loanbook audit digest` check it")
    return 0
