"""The unit of work: one command, one database transaction, retried in one place.

Domains and adapters run every write through `run_in_transaction(engine, work)`: `work(conn)`
runs in a transaction that commits when it returns and rolls back, whole, when it raises. The
audit trail is part of the unit: `record_event` writes an event in the same transaction, and the
events a transaction wrote are sealed into the tenant's hash chain by an after-commit hook (or,
on an engine with a background sealer, by that sealer within its interval). Other work that must
follow a commit, and only a commit, hangs on `after_commit`.

Transient failures mean "run it again", never "tell the caller": PostgreSQL's serialization
failures (40001), deadlocks (40P01) and lock timeouts (55P03), SQLite's "database is locked", a
connection found dead before COMMIT was sent, and a unique violation on a key declared
retryable. A key is declared retryable where it is defined, with `info=retryable` on its
sa.UniqueConstraint or unique sa.Index: its violation means another transaction got there first
(an idempotency key, a one-time link), and running the work again finds the other row and answers
as a replay or a typed error.

A database that went away (restarted, shut down, refusing connections) is retried a few times
over a fraction of a second, then it is `DatabaseUnavailable` (SERVICE_UNAVAILABLE), which tells
the caller to send the command again later with the same idempotency key. After such a loss every
pooled connection is suspect: the unit of work (and `read_again_if_lost`) replaces the engine's
pool, so the first command after the server is back runs on fresh connections.
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.actor import Actor
from ledger.errors import DatabaseUnavailable, TransactionRetriesExhausted
from ledger.store.audit_log import event_rows
from ledger.store.sealer import seal_committed, seal_in_transaction, sealed_in_background
from ledger.store.tables import audit_events, audit_unsealed, metadata, retryable  # noqa: F401 (retryable: public)

log = logging.getLogger(__name__)

T = TypeVar("T")
attempts_max = 25
backoff_seconds_max = 0.2
retryable_sqlstates = frozenset({"40001", "40P01", "55P03"})
# Class 08 (connection exception) and these: admin_shutdown, crash_shutdown, cannot_connect_now
# (starting up or shutting down), too_many_connections.
unavailable_sqlstates = frozenset({"57P01", "57P02", "57P03", "53300"})
reconnect_attempts_max = 4
reconnect_backoff_seconds = 0.05  # doubled per attempt: ~0.35 s in all before DatabaseUnavailable

# Execution option marking a connection that only reads: the SQLite engine (loanbook.db) then begins
# its transactions deferred, without the write lock, and in WAL mode they read while writers carry on.
read_only_option = "loanbook_read_only"
_unit_key = "loanbook_unit_of_work"


class UnitOfWork:
    """What one run of a command's transaction carries besides the connection.

    `seal`: the transaction's audit events are to be sealed. A posting statement may take the
    tenant's sealer lock (see ledger.store.journal); the transaction then chains the queue, its
    own events included, once, just before it commits (`seal_held`), however many entries it
    posted. The events still pending at commit are sealed by an after-commit hook.
    """

    __slots__ = ("seal", "_hooks", "_pending", "_sealer_of")

    def __init__(self, *, seal: bool) -> None:
        self.seal = seal
        self._hooks: list[Callable[[Connection], None]] = []
        self._pending: dict[int, list[uuid.UUID]] = {}
        self._sealer_of: set[int] = set()

    def after_commit(self, hook: Callable[[Connection], None]) -> None:
        """Run `hook(conn)` once the transaction committed, on the same connection, outside it."""
        self._hooks.append(hook)

    def audited(self, tenant_id: int, event_ids: list[uuid.UUID]) -> None:
        """The transaction wrote these events: seal them after commit (unless sealed before)."""
        pending = self._pending.get(tenant_id)
        if pending is None:
            pending = self._pending[tenant_id] = []
            if self.seal:
                self.after_commit(lambda conn: _seal_or_leave_queued(conn, tenant_id, pending))
        pending.extend(event_ids)

    def holds_sealer_lock(self, tenant_id: int) -> None:
        """A statement of this transaction took the tenant's sealer lock (held until commit)."""
        self._sealer_of.add(tenant_id)

    def seal_held(self, conn: Connection) -> None:
        """Before commit: chain the pending events of each tenant whose sealer lock we hold."""
        for tenant_id in sorted(self._sealer_of):
            self.sealed(tenant_id, set(seal_in_transaction(conn, tenant_id)))

    def sealed(self, tenant_id: int, event_ids: set[uuid.UUID]) -> None:
        """These events were chained inside the transaction: nothing is left to do for them."""
        pending = self._pending.get(tenant_id)
        if pending:
            pending[:] = [event_id for event_id in pending if event_id not in event_ids]


def current(conn: Connection) -> UnitOfWork:
    """The unit of work `conn` runs in; outside run_in_transaction, one that seals nothing itself."""
    unit = conn.info.get(_unit_key)
    if unit is None:
        unit = conn.info[_unit_key] = UnitOfWork(seal=False)
    return unit


def after_commit(conn: Connection, hook: Callable[[Connection], None]) -> None:
    """Run `hook(conn)` after the transaction of `conn` commits (never if it rolls back)."""
    current(conn).after_commit(hook)


def read_connection(engine: Engine) -> Connection:
    """A connection for reading only (use it in `with`): on SQLite it does not take the write lock."""
    return engine.connect().execution_options(**{read_only_option: True})


def run_in_transaction(engine: Engine, work: Callable[[Connection], T], *, seal: bool = True) -> T:
    """Run `work(conn)` in one transaction, retrying transient failures; then the after-commit hooks.

    A LedgerError raised by `work` rolls the transaction back and reaches the caller unchanged.
    A connection found dead before COMMIT was sent is retried on a fresh one (the server rolled
    that transaction back), a few times (`reconnect_attempts_max`), then DatabaseUnavailable; one
    lost during COMMIT is DatabaseUnavailable at once, since it may have committed. The hooks
    run on the same connection right after commit, outside the retry loop: the work committed, so
    a failing hook (the connection lost) is logged and the result still returned; audit events a
    failed seal leaves on the queue are chained by the next sealer (`loanbook verify` seals what
    is pending before it checks). With `seal=False`, or on an engine registered with
    ledger.sealing.seal_in_background, this returns right after commit without sealing.
    """
    if seal and sealed_in_background(engine):
        seal = False  # a background sealer follows the queue (ledger.sealing.BackgroundSealer)
    busy_attempt = lost_attempt = 0  # failed attempts: the database refused the work / the connection was lost
    while True:
        committing = False
        try:
            conn = engine.connect()
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:
            if not connection_lost(exc):
                raise
            lost_attempt += 1
            time.sleep(reconnect_delay(lost_attempt, exc))
            continue
        unit = conn.info[_unit_key] = UnitOfWork(seal=seal)
        try:
            with conn.begin():
                result = work(conn)
                unit.seal_held(conn)
                committing = True
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error) as exc:
            if not conn.invalidated:  # an invalidated connection would reconnect to show its info
                conn.info.pop(_unit_key, None)
            if connection_lost(exc):
                _forget_pool(engine, conn, exc)
                if committing:
                    raise DatabaseUnavailable(
                        "the connection to the database was lost while committing, so the outcome is not known here; "
                        "send the command again with the same idempotency key: if it committed, that is a replay"
                    ) from exc
                lost_attempt += 1
                time.sleep(reconnect_delay(lost_attempt, exc))
                continue
            conn.close()
            if not is_retryable(exc):
                raise
            busy_attempt += 1
            back_off(busy_attempt, exc, "transaction")
            continue
        except BaseException:
            if not conn.invalidated:
                conn.info.pop(_unit_key, None)
            conn.close()
            raise
        try:
            for hook in unit._hooks:
                _run_hook(conn, hook)
        finally:
            conn.info.pop(_unit_key, None)
            conn.close()
        return result


def read_again_if_lost(engine: Engine, read: Callable[[], T]) -> T:
    """`read()`, run again on fresh connections while it fails because the connection was lost (a
    read may be repeated at will); DatabaseUnavailable once reconnecting did not help."""
    lost_attempt = 0
    while True:
        try:
            return read()
        except Exception as exc:
            if not connection_lost(exc):
                raise
            engine.dispose()  # every pooled connection died with the one that failed (see _forget_pool)
            lost_attempt += 1
            time.sleep(reconnect_delay(lost_attempt, exc))


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the database went away (as opposed to refusing the work): a connection that
    SQLAlchemy found dead, a server restarting or shutting down, a connection refused or closed.

    For SQLAlchemy's wrapped errors and for raw driver errors. PostgreSQL's driver gives every error
    a `sqlstate`, None for a failure on the client's side of the socket (refused, closed); SQLite's
    errors carry none and are never a lost connection ("database is locked" is a busy database).
    """
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if not hasattr(orig, "sqlstate"):
        return False
    sqlstate = orig.sqlstate
    if sqlstate is None:
        return any(cls.__name__ == "OperationalError" for cls in type(orig).__mro__)
    return sqlstate.startswith("08") or sqlstate in unavailable_sqlstates


def reconnect_delay(attempt: int, exc: BaseException) -> float:
    """Seconds to wait before reconnect attempt `attempt` + 1; DatabaseUnavailable after the last."""
    if attempt >= reconnect_attempts_max:
        raise DatabaseUnavailable(
            "the database is unavailable (restarting or unreachable); nothing was written: "
            "send the request again shortly, with the same idempotency key"
        ) from exc
    log.warning("the database connection was lost (attempt %s), reconnecting: %s", attempt, driver_message(exc))
    return reconnect_backoff_seconds * 2 ** (attempt - 1)


def driver_message(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's statement and parameters (a token's digest, for one)."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    text = str(orig).strip()
    return f"{type(orig).__name__}: {text.splitlines()[0] if text else ''}"


def _forget_pool(engine: Engine, conn: Connection, exc: BaseException) -> None:
    """Drop a connection the server closed, and with it every pooled one, which the same restart killed.

    SQLAlchemy invalidates the pool itself when it sees a disconnect, but not on every road (an
    error the driver raised directly, ledger.store writes through it; a connection it had already
    invalidated): replacing the pool here covers them all. Connections checked out of the old pool
    meanwhile are closed when they are returned.
    """
    if not conn.invalidated:
        try:
            conn.invalidate(exc)
        except Exception:  # noqa: BLE001 - the connection is gone either way
            log.debug("invalidating a lost connection failed", exc_info=True)
    conn.close()
    engine.dispose()


def record_events(conn: Connection, actor: Actor, events: list[dict]) -> list[uuid.UUID]:
    """Write audit events (dicts of action, entity_type, entity_id, before, after, reason) in this
    transaction; they are sealed into the chain after it commits. Returns their ids."""
    if not events:
        return []
    rows = event_rows(actor, events)
    conn.execute(sa.insert(audit_events), rows)
    conn.execute(
        sa.insert(audit_unsealed),
        [{"tenant_id": r["tenant_id"], "event_id": r["id"], "occurred_at": r["occurred_at"]} for r in rows],
    )
    ids = [r["id"] for r in rows]
    current(conn).audited(actor.tenant_id, ids)
    return ids


def record_event(
    conn: Connection,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    before: Mapping | None = None,
    after: Mapping | None = None,
    reason: str | None = None,
) -> uuid.UUID:
    """One audit event: who (the actor) did what (action) to which entity, before and after, and why."""
    event = {"action": action, "entity_type": entity_type, "entity_id": entity_id, "before": before, "after": after,
             "reason": reason}
    return record_events(conn, actor, [event])[0]


def is_retryable(exc: Exception) -> bool:
    """For SQLAlchemy's wrapped errors and for raw driver errors (the PostgreSQL store writes through the driver)."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in retryable_sqlstates:
        return True
    text = str(orig)
    if sqlstate == "23505" or "UNIQUE constraint failed" in text:
        return any(name in text for name in _retryable_key_names())
    return "database is locked" in text or "database is busy" in text


_key_names: tuple[int, frozenset[str]] = (-1, frozenset())


def _retryable_key_names() -> frozenset[str]:
    """How PostgreSQL (the key's name) and SQLite (its table.column list) name each retryable key."""
    global _key_names
    if _key_names[0] != len(metadata.tables):  # a domain's tables were defined since
        names: set[str] = set()
        for table in metadata.tables.values():
            keys = [c for c in table.constraints if isinstance(c, (sa.UniqueConstraint, sa.PrimaryKeyConstraint))]
            keys += [i for i in table.indexes if i.unique]
            for key in keys:
                if key.info.get("retryable"):
                    columns = [column.name for column in key.columns]
                    prefix = "pk" if isinstance(key, sa.PrimaryKeyConstraint) else "uq"
                    names.add(key.name if isinstance(key.name, str) else f"{prefix}_{table.name}_{'_'.join(columns)}")
                    names.add(", ".join(f"{table.name}.{column}" for column in columns))
        _key_names = (len(metadata.tables), frozenset(names))
    return _key_names[1]


def back_off(attempt: int, exc: Exception, what: str) -> None:
    """Before another attempt: give up after the last one, else wait a random, growing while."""
    if attempt == attempts_max:
        raise TransactionRetriesExhausted(
            f"the database kept refusing the {what} after {attempts_max} attempts; try again"
        ) from exc
    log.debug("retrying %s (attempt %s): %s", what, attempt, exc)
    time.sleep(random.uniform(0, min(backoff_seconds_max, 0.002 * 2**attempt)))


def _run_hook(conn: Connection, hook: Callable[[Connection], None]) -> None:
    try:
        hook(conn)
    except Exception:
        # The work committed: the caller gets its result, and what the hook would have done is
        # left for the process that follows up (the sealer chains queued events, for one).
        log.exception("an after-commit hook failed; the work itself committed")


def _seal_or_leave_queued(conn: Connection, tenant_id: int, event_ids: list[uuid.UUID]) -> None:
    if not event_ids:
        return  # the posting statement sealed them inside the transaction
    try:
        seal_committed(conn, tenant_id, event_ids)
    except (sa.exc.DBAPIError, conn.dialect.loaded_dbapi.Error):
        # The work committed: an error now would tell the caller otherwise (and a retry would post
        # twice). The events stay on the queue, which the next sealer chains, as after a crash.
        log.warning("sealing after commit failed; the events stay queued for the next sealer", exc_info=True)
