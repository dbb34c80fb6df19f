"""Close of business as a job: request a run (QUEUED), execute it off the request (RUNNING), record the outcome.

`request_run` checks the date's order at once (COB_OUT_OF_ORDER without queueing anything) and refuses
a second QUEUED or RUNNING run of the tenant (COB_ALREADY_RUNNING; a partial unique index backs it).
`execute_run` is what a background worker calls: it runs `loans.cob.run_close_of_business`, whose batches
commit one by one and resume after an interruption, touching the run's heartbeat after every batch.
A run left RUNNING by a stopped server stops blocking once its heartbeat is `heartbeat_stale_after`
old: the next request marks it FAILED (COB_RUN_ABANDONED) and its own run resumes the date.
Every status change writes an audit event in the same transaction.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable

from sqlalchemy.engine import Connection, Engine

from ledger.actor import Actor
from ledger.errors import LedgerError
from ledger.ids import uuid7
from ledger.unit_of_work import record_event
from ledger.unit_of_work import run_in_transaction
from loans.cob import check_business_date, run_close_of_business
from loans.cob_catch_up import last_closed, pending_dates
from loans.errors import CobAlreadyRunning, CobOutOfOrder
from loans.model import CobRun, RunStatus
from loans.store import cob_runs as store

log = logging.getLogger(__name__)

heartbeat_stale_after = dt.timedelta(minutes=10)
# A business day closes once it has begun somewhere: the clock's UTC date plus one day (UTC+14 is a day ahead).
# Without this bound, one mistyped year (8026 for 2026) would age every loan through millennia, day by day.
business_date_lead_max = dt.timedelta(days=1)
loan_errors_kept_max = 100
error_message_length_max = 500
runs_page_size_max = 100
entity_type = "close_of_business_run"
# Codes a FAILED run can carry besides the LedgerError codes close of business raises itself.
interrupted_code = "COB_INTERRUPTED"
abandoned_code = "COB_RUN_ABANDONED"
internal_code = "INTERNAL_ERROR"


class RunInterrupted(Exception):
    """Raised between batches when the worker is asked to stop (the server is shutting down)."""


def request_run(conn: Connection, actor: Actor, day: dt.date) -> CobRun:
    """A QUEUED run of `day` for the actor's tenant; COB_OUT_OF_ORDER or COB_ALREADY_RUNNING instead."""
    today = actor.now.astimezone(dt.timezone.utc).date()
    if day > today + business_date_lead_max:
        raise CobOutOfOrder(f"business date {day} has not begun yet (today is {today} UTC); close dates as they end")
    check_business_date(conn, actor.tenant_id, day)
    active = store.active_run(conn, actor.tenant_id)
    if active is not None:
        if active.heartbeat_at > actor.now - heartbeat_stale_after:
            raise CobAlreadyRunning(
                f"close of business for {active.business_date} is {active.status.lower()} (run {active.id}); "
                "wait for it to finish", run=str(active.id),
            )
        _finish(conn, actor, active, RunStatus.FAILED, error=(
            abandoned_code, f"no progress since {active.heartbeat_at.isoformat()}; superseded by a new run",
        ))
    run_id = uuid7()
    store.insert_run(conn, actor.tenant_id, run_id, day, actor.name, actor.now)
    record_event(conn, actor, "close_of_business.requested", entity_type, run_id,
                 after={"business_date": day.isoformat(), "status": RunStatus.QUEUED.value})
    run = get_run(conn, actor.tenant_id, run_id)
    assert run is not None
    return run


def request_catch_up(conn: Connection, actor: Actor, through: dt.date) -> CobRun:
    """A QUEUED run of the first date still to close through `through` (`execute_through` runs the rest).

    With nothing pending, the run is of the last closed date and finishes as already done.
    """
    days = pending_dates(conn, actor.tenant_id, through)
    if days:
        return request_run(conn, actor, days[0])
    last = last_closed(conn, actor.tenant_id)
    return request_run(conn, actor, through if last is None else last[0])


def execute_through(
    db: Engine, tenant_id: int, run_id: uuid.UUID, through: dt.date, *, clock: Callable[[], dt.datetime],
    should_stop: Callable[[], bool] = lambda: False, batch_size: int | None = None,
    on_run: Callable[[CobRun], None] | None = None,
) -> CobRun:
    """Execute a run, then one run per following date through `through`, stopping at the first that fails.

    Each date is its own recorded run (an audit trail per date); the last run is returned.
    """
    run = execute_run(db, tenant_id, run_id, clock=clock, should_stop=should_stop, batch_size=batch_size)
    while True:
        if on_run is not None:
            on_run(run)
        if run.status is not RunStatus.SUCCEEDED or run.business_date >= through or should_stop():
            return run
        actor = Actor(tenant_id, run.requested_by, clock())
        following = run.business_date + dt.timedelta(days=1)
        try:
            queued = run_in_transaction(db, lambda conn: request_run(conn, actor, following))
        except LedgerError as exc:
            log.warning("close of business catch-up stopped before %s: %s", following, exc.message)
            return run
        run = execute_run(db, tenant_id, queued.id, clock=clock, should_stop=should_stop, batch_size=batch_size)


def execute_run(
    db: Engine, tenant_id: int, run_id: uuid.UUID, *, clock: Callable[[], dt.datetime],
    should_stop: Callable[[], bool] = lambda: False, batch_size: int | None = None,
) -> CobRun:
    """Run a QUEUED run to SUCCEEDED or FAILED (a run in another state is returned as it is)."""
    run = run_in_transaction(db, lambda conn: _start(conn, tenant_id, run_id, clock()))
    if run.status is not RunStatus.RUNNING:
        return run

    def progress(done: int, total: int) -> None:
        run_in_transaction(db, lambda conn: store.heartbeat(conn, tenant_id, run_id, clock(), done, total), seal=False)
        if should_stop():
            raise RunInterrupted

    options = {} if batch_size is None else {"batch_size": batch_size}
    error: tuple[str, str] | None = None
    summary = None
    try:
        summary = run_close_of_business(
            db, tenant_id, run.business_date, actor_name=run.requested_by, clock=clock, progress=progress, **options,
        )
    except LedgerError as exc:
        error = (exc.code, exc.message)
    except RunInterrupted:
        error = (interrupted_code, "the server stopped between batches; run the date again to resume it")
    except Exception:
        log.exception("close of business run %s failed", run_id)
        error = (internal_code, "unexpected error; the server log has the details")
    actor = Actor(tenant_id, run.requested_by, clock())
    if error is not None:
        return run_in_transaction(db, lambda conn: _finish(conn, actor, run, RunStatus.FAILED, error=error))
    return run_in_transaction(db, lambda conn: _finish(conn, actor, run, RunStatus.SUCCEEDED, summary=summary))


def get_run(conn: Connection, tenant_id: int, run_id: uuid.UUID) -> CobRun | None:
    return store.get_run(conn, tenant_id, run_id)


def list_runs(
    conn: Connection, tenant_id: int, *, after: tuple[dt.datetime, uuid.UUID] | None = None, limit: int = 20,
) -> list[CobRun]:
    """Runs newest requested first, keyset-paginated with `after` = (requested_at, id)."""
    return store.list_runs(conn, tenant_id, after, max(1, min(limit, runs_page_size_max + 1)))


def _start(conn: Connection, tenant_id: int, run_id: uuid.UUID, now: dt.datetime) -> CobRun:
    run = store.get_run(conn, tenant_id, run_id, lock=True)
    assert run is not None, f"no close-of-business run {run_id}"
    if run.status is not RunStatus.QUEUED:
        return run
    store.mark_running(conn, tenant_id, run_id, now)
    record_event(conn, Actor(tenant_id, run.requested_by, now), "close_of_business.started", entity_type, run_id,
                 before={"status": RunStatus.QUEUED.value}, after={"status": RunStatus.RUNNING.value})
    return get_run(conn, tenant_id, run_id)  # type: ignore[return-value]


def _finish(conn: Connection, actor: Actor, run: CobRun, status: RunStatus, *, summary=None, error=None) -> CobRun:  # noqa: ANN001
    values: dict[str, object] = {"status": status.value, "finished_at": actor.now, "heartbeat_at": actor.now}
    if summary is not None:
        values.update(
            loans_processed=summary.loans_processed, entries_posted=summary.entries_posted,
            entered_non_accrual=summary.entered_non_accrual, already_done=summary.already_done, resumed=summary.resumed,
            loan_errors=json.dumps(list(summary.errors[:loan_errors_kept_max])),
        )
    if error is not None:
        values.update(error_code=error[0], error_message=error[1][:error_message_length_max])
    if store.finish_run(conn, actor.tenant_id, run.id, values):
        record_event(conn, actor, f"close_of_business.{status.value.lower()}", entity_type, run.id,
                     before={"status": run.status.value},
                     after={"status": status.value, **({"error_code": error[0]} if error else {}),
                            **({"loans_processed": summary.loans_processed} if summary else {})})
    return get_run(conn, actor.tenant_id, run.id)  # type: ignore[return-value]
