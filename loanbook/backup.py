"""`loanbook backup` and `loanbook restore`: a whole database to one file and back, into an empty one.

PostgreSQL: pg_dump in its custom format (one consistent snapshot, taken while others keep posting)
and pg_restore into a fresh database (created when the server has none of that name), as separate
programs. The restore runs in one transaction
(`--single-transaction --exit-on-error`), so a restore that fails leaves the target as empty as it
was. Owners and grants are not restored: the restoring role owns what it restores.

SQLite: the online backup API (sqlite3.Connection.backup) copies every page under a read snapshot,
so a backup taken while the server writes is consistent; the restore is the same copy the other way.

A restore refuses a target that already holds tables (RESTORE_TARGET_NOT_EMPTY): restoring over
live books would mix two histories. The backup file's first bytes tell which backend made it; a
file of the other kind is refused (BACKUP_UNREADABLE) before anything is written.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from loanbook.db import normalise_url

sqlite_magic = b"SQLite format 3\x00"
pg_dump_magic = b"PGDMP"
# pg_dump and pg_restore are bounded: a backup that hangs is worse than one that fails loudly.
tool_seconds_max = 3600
tool_stderr_shown_max = 2000
postgresql_bin_root = Path("/usr/lib/postgresql")


class BackupError(Exception):
    """A backup or restore that cannot be done; `code` is stable, the message is for a person.

    Not a LedgerError: these are operators' errors of the command line, never answers of the API.
    """

    code = "BACKUP_ERROR"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class BackupFailed(BackupError):
    code = "BACKUP_FAILED"


class BackupUnreadable(BackupError):
    code = "BACKUP_UNREADABLE"


class RestoreTargetNotEmpty(BackupError):
    code = "RESTORE_TARGET_NOT_EMPTY"


class RestoreFailed(BackupError):
    code = "RESTORE_FAILED"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    backend: str


def backup_database(url: str, output: Path) -> BackupResult:
    """Write the whole database at `url` to `output` (which must not exist yet)."""
    parsed = make_url(normalise_url(url))
    if output.exists():
        raise BackupFailed(f"{output} exists already; a backup never overwrites a file", field="output")
    if not output.parent.is_dir():
        raise BackupFailed(f"the directory {output.parent} does not exist", field="output")
    partial = output.with_name(output.name + ".partial")
    try:
        if parsed.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_path(parsed, must_exist=True), partial, BackupFailed)
        else:
            _run_tool(BackupFailed, "pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial),
                      "--dbname", _libpq_url(parsed), password=parsed.password)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(output, output.stat().st_size, parsed.get_backend_name())


def restore_database(backup: Path, url: str) -> str:
    """Restore `backup` into the empty database at `url`; returns the backend's name."""
    parsed = make_url(normalise_url(url))
    kind = _backup_kind(backup)
    backend = parsed.get_backend_name()
    if kind != backend:
        raise BackupUnreadable(f"{backup} is a {kind} backup; it restores into a {kind} database, not {backend}")
    if backend == "sqlite":
        target = _sqlite_path(parsed, must_exist=False)
        if _table_names(url):
            raise RestoreTargetNotEmpty(f"{target} already holds tables; restore into a new file")
        _sqlite_copy(backup, target, RestoreFailed)
        return backend
    _create_if_missing(parsed)
    if _table_names(url):
        raise RestoreTargetNotEmpty(f"database {parsed.database!r} already holds tables; restore into a new, empty database")
    _run_tool(RestoreFailed, "pg_restore", "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
              "--dbname", _libpq_url(parsed), str(backup), password=parsed.password)
    return backend


def _backup_kind(backup: Path) -> str:
    try:
        with backup.open("rb") as handle:
            head = handle.read(len(sqlite_magic))
    except OSError as exc:
        raise BackupUnreadable(f"cannot read {backup}: {exc.strerror}") from None
    if head.startswith(sqlite_magic):
        return "sqlite"
    if head.startswith(pg_dump_magic):
        return "postgresql"
    raise BackupUnreadable(f"{backup} is neither a pg_dump custom-format archive nor a SQLite database")


def _create_if_missing(parsed: URL) -> None:
    """Create the target PostgreSQL database when the server has none of that name (a restore goes into a
    new database). Connecting as the URL's role to the server's `postgres` database, that role needs the
    CREATEDB privilege; without it, create the database first (`createdb`)."""
    admin = sa.create_engine(parsed.set(database="postgres"), poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}).first()
            if exists is None:
                conn.execute(sa.text(f'CREATE DATABASE "{_identifier(parsed.database)}"'))
    except sa.exc.DBAPIError as exc:
        raise RestoreFailed(
            f"cannot create database {parsed.database!r} (create it first with createdb): "
            f"{str(exc.orig).strip().splitlines()[0][:tool_stderr_shown_max]}"
        ) from None
    finally:
        admin.dispose()


def _identifier(name: str | None) -> str:
    if not name or '"' in name or "\x00" in name or len(name) > 63:
        raise RestoreFailed(f"{name!r} is not a database name a restore creates; create it first with createdb")
    return name


def _table_names(url: str) -> list[str]:
    engine = sa.create_engine(normalise_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).get_table_names()
    except sa.exc.OperationalError as exc:
        raise RestoreFailed(f"cannot open the target database: {str(exc.orig).strip()[:tool_stderr_shown_max]}") from None
    finally:
        engine.dispose()


def _sqlite_path(parsed: URL, *, must_exist: bool) -> Path:
    if not parsed.database or parsed.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database has nothing to back up or restore into", field="database-url")
    path = Path(parsed.database)
    if must_exist and not path.is_file():
        raise BackupFailed(f"there is no SQLite database at {path}", field="database-url")
    return path


def _sqlite_copy(source: Path, target: Path, error: type[BackupError]) -> None:
    """Every page of `source` into `target`, under one read snapshot of the source (writers carry on).

    The copy is left in rollback-journal mode, one self-contained file; the engine (loanbook.db)
    switches a database it opens back to WAL.
    """
    try:
        src = sqlite3.connect(source)
    except sqlite3.Error as exc:
        raise error(f"cannot open {source}: {exc}") from None
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise error(f"SQLite copy of {source} into {target} failed: {exc}") from None
    finally:
        src.close()


def _libpq_url(parsed: URL) -> str:
    """The URL as libpq reads it, without the password (that goes in PGPASSWORD, not on a command line)."""
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def postgresql_tool(name: str) -> str:
    """The newest installed pg_dump/pg_restore: a dump needs a tool at least as new as the server."""
    versions = sorted(
        (p for p in postgresql_bin_root.glob(f"*/bin/{name}") if p.parent.parent.name.isdigit()),
        key=lambda p: int(p.parent.parent.name),
    )
    found = str(versions[-1]) if versions else shutil.which(name)
    if found is None:
        raise BackupFailed(f"{name} is not installed (PostgreSQL's client programs)")
    return found


def _run_tool(error: type[BackupError], name: str, *args: str, password: str | None) -> None:
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    try:
        done = subprocess.run([postgresql_tool(name), *args], env=env, capture_output=True, text=True, timeout=tool_seconds_max)
    except subprocess.TimeoutExpired:
        raise error(f"{name} did not finish within {tool_seconds_max} s") from None
    if done.returncode != 0:
        raise error(f"{name} exited with {done.returncode}: {done.stderr.strip()[-tool_stderr_shown_max:]}")
