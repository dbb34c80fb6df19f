"""Close of business: advance every active loan to a business date, in batches, resumably.

For each loan the pure `servicing.close_day` runs for every day from its last closed date to the
target date. Each batch of loans is one database transaction: one journal entry per batch and
currency (movements netted per GL account), one detail row per loan in loan_transactions, and the
loans' new state. A loan whose last_cob_date already equals the date is skipped, so running COB
twice changes nothing and an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import multiprocessing
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import service as ledger
from ledger.actor import Actor
from ledger.ids import uuid7s
from ledger.ownership import workflow_key
from ledger.unit_of_work import run_in_transaction
from loans import servicing
from loans.catalogue import get_product
from loans.delinquency import ClassificationPolicy
from loans.errors import CobOutOfOrder
from loans.posting import entry_for, net_by_account
from loans.products import Product
from loans.state import LoanState, LoanStatus
from loans.store.bulk import insert_rows, update_rows
from loans.store.repository import load_installments, loan_values, save_installments, state_from_rows, tenant_policy
from loans.store.tables import cob_runs, loan_snapshots, loan_transactions, loans

batch_size_default = 2000
cob_workflow = "close_of_business"  # the marker in the metadata of its entries (ledger.ownership)
batch_size_max = 5000
parallel_loans_min = 500  # fewer pending loans close in one process: splitting them would cost more than it saves


@dataclass
class CobSummary:
    business_date: dt.date
    loans_processed: int = 0
    entries_posted: int = 0
    accrued: int = 0
    penalties: int = 0
    entered_non_accrual: int = 0
    already_done: bool = False
    resumed: bool = False
    errors: list[str] = field(default_factory=list)


def run_close_of_business(
    db: Engine,
    tenant_id: int,
    day: dt.date,
    *,
    actor_name: str = "cob",
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    batch_size: int = batch_size_default,
    policy: ClassificationPolicy | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    engine_factory: Callable[[str], Engine] | None = None,
    pool: CobWorkers | None = None,
) -> CobSummary:
    """Close `day` for the tenant. Dates run in order; a finished date is a no-op; a started one resumes.

    With `workers` > 1 on PostgreSQL, batches run in that many processes at once (each batch is
    still one transaction over a disjoint set of loans, so the result is the same); each process
    makes its own engine from the database URL with `engine_factory` (the composition root's,
    loanbook.db.worker_engine), which parallel runs need. A caller closing many dates passes the
    same started `pool` (CobWorkers) to each instead, and the processes are made once.
    """
    batch_size = max(1, min(batch_size, batch_size_max))
    summary = CobSummary(day)
    status = run_in_transaction(db, lambda conn: _start_run(conn, tenant_id, day, clock()))
    if status == "DONE":
        summary.already_done = True
        return summary
    summary.resumed = status == "RESUMED"
    with db.connect() as conn:
        total = conn.execute(_pending_query(tenant_id, day, sa.func.count())).scalar() or 0
        if policy is None:
            policy = tenant_policy(conn, tenant_id)
        conn.rollback()
    processes = pool.workers if pool is not None else (min(workers, workers_max) if engine_factory is not None else 1)
    if db.dialect.name == "postgresql" and processes > 1 and total >= parallel_loans_min:
        # A batch for every process: 1,500 loans close as two batches of 750 at once, not one of 1,500.
        batch_size = min(batch_size, -(-total // processes))
    chunks = _pending_chunks(db, tenant_id, day, batch_size)
    if db.dialect.name == "postgresql" and processes > 1 and total > batch_size:
        with contextlib.nullcontext(pool) if pool is not None else cob_workers(db, engine_factory, workers) as started:
            _run_parallel(started, tenant_id, day, actor_name, policy, chunks, summary, progress, total)
    else:
        products: dict[tuple[str, int], Product] = {}
        for chunk in chunks:
            actor = Actor(tenant_id, actor_name, clock())
            batch = run_in_transaction(db, lambda conn: _close_batch(conn, actor, day, chunk, products, policy))
            _merge(summary, batch)
            if progress:
                progress(summary.loans_processed, total)
    run_in_transaction(db, lambda conn: _finish_run(conn, tenant_id, day, clock(), summary))
    return summary


workers_max = 16


def _pending_chunks(db: Engine, tenant_id: int, day: dt.date, batch_size: int) -> Iterator[list[uuid.UUID]]:
    """Ids of the loans still to close, in batches, by keyset (nothing held in memory but a batch)."""
    after = None
    while True:
        query = _pending_query(tenant_id, day, loans.c.id).order_by(loans.c.id).limit(batch_size)
        if after is not None:
            query = query.where(loans.c.id > after)
        with db.connect() as conn:
            ids = list(conn.execute(query).scalars())
            conn.rollback()
        if not ids:
            return
        yield ids
        after = ids[-1]


def _merge(summary: CobSummary, batch: CobSummary) -> None:
    summary.loans_processed += batch.loans_processed
    summary.entries_posted += batch.entries_posted
    summary.accrued += batch.accrued
    summary.penalties += batch.penalties
    summary.entered_non_accrual += batch.entered_non_accrual


_worker_engine: Engine | None = None


def _worker_start(engine_factory: Callable[[str], Engine], url: str) -> None:
    global _worker_engine
    _worker_engine = engine_factory(url)


def _worker_batch(tenant_id: int, actor_name: str, day: dt.date, ids: list[uuid.UUID], policy: ClassificationPolicy) -> CobSummary:
    assert _worker_engine is not None
    actor = Actor(tenant_id, actor_name, dt.datetime.now(dt.timezone.utc))
    products = _worker_products.setdefault(tenant_id, {})  # a worker may serve several tenants' dates
    return run_in_transaction(_worker_engine, lambda conn: _close_batch(conn, actor, day, ids, products, policy))


_worker_products: dict[int, dict[tuple[str, int], Product]] = {}


class CobWorkers:
    """Processes closing batches of loans, kept for as many business dates as the caller closes.

    Use it in `with`: every process starts as the block begins (the engine's pool is emptied first,
    so none inherits a connection; concurrent.futures starts all of a fork pool's processes at its
    first task) and makes its own engine with `engine_factory`; they stop when the block ends. A
    catch-up or the demo book closes hundreds of dates with one set instead of forking for each.
    """

    def __init__(self, db: Engine, engine_factory: Callable[[str], Engine], workers: int) -> None:
        self.db, self.engine_factory = db, engine_factory
        self.workers = max(1, min(workers, workers_max))
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> CobWorkers:
        url = self.db.url.render_as_string(hide_password=False)
        self.db.dispose()  # no pooled connection may be inherited by the worker processes
        context = multiprocessing.get_context("fork")
        self._executor = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_worker_start, initargs=(self.engine_factory, url)
        )
        wait([self._executor.submit(_worker_ready) for _ in range(self.workers)])
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._executor is not None
        self._executor.shutdown()
        self._executor = None

    def submit(self, *args: object) -> Future:
        assert self._executor is not None, "CobWorkers is used in a with block"
        return self._executor.submit(_worker_batch, *args)


def cob_workers(
    db: Engine, engine_factory: Callable[[str], Engine] | None, workers: int,
) -> contextlib.AbstractContextManager[CobWorkers | None]:
    """CobWorkers where they can run (PostgreSQL, more than one worker, an engine factory); else a
    block that yields None, and close of business runs in the caller's process."""
    if workers > 1 and engine_factory is not None and db.dialect.name == "postgresql":
        return CobWorkers(db, engine_factory, workers)
    return contextlib.nullcontext()


def _worker_ready() -> None:
    return None


def _run_parallel(
    pool: CobWorkers, tenant_id: int, day: dt.date, actor_name: str, policy: ClassificationPolicy,
    chunks: Iterator[list[uuid.UUID]], summary: CobSummary, progress: Callable[[int, int], None] | None, total: int,
) -> None:
    pending: set[Future] = set()
    for chunk in chunks:
        pending.add(pool.submit(tenant_id, actor_name, day, chunk, policy))
        if len(pending) >= 2 * pool.workers:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            _collect(done, summary, progress, total)
    _collect(pending, summary, progress, total)


def _collect(futures, summary: CobSummary, progress, total: int) -> None:
    for future in futures:
        _merge(summary, future.result())
        if progress:
            progress(summary.loans_processed, total)


def _pending_query(tenant_id: int, day: dt.date, *columns: sa.ColumnElement) -> sa.Select:
    return sa.select(*columns).where(
        loans.c.tenant_id == tenant_id,
        loans.c.status == LoanStatus.ACTIVE.value,
        loans.c.last_cob_date < day,
    )


def check_business_date(conn: Connection, tenant_id: int, day: dt.date, *, lock: bool = False) -> str:
    """"DONE" (closed already), "RESUMED" (started, unfinished) or "STARTED" (the next date); else CobOutOfOrder."""
    query = (
        sa.select(cob_runs.c.business_date, cob_runs.c.status)
        .where(cob_runs.c.tenant_id == tenant_id)
        .order_by(cob_runs.c.business_date.desc())
        .limit(1)
    )
    runs = conn.execute(query.with_for_update() if lock else query).first()
    if runs is not None:
        if runs.business_date == day:
            return "DONE" if runs.status == "DONE" else "RESUMED"
        if runs.business_date > day:
            raise CobOutOfOrder(f"business date {day} is before the last closed date {runs.business_date}")
        if runs.status != "DONE":
            raise CobOutOfOrder(f"close of business for {runs.business_date} has not finished; run it again first")
        if day != runs.business_date + dt.timedelta(days=1):
            raise CobOutOfOrder(
                f"business dates run in order: the next one is {runs.business_date + dt.timedelta(days=1)}, not {day}"
            )
    return "STARTED"


def _start_run(conn: Connection, tenant_id: int, day: dt.date, now: dt.datetime) -> str:
    status = check_business_date(conn, tenant_id, day, lock=True)
    if status == "STARTED":
        conn.execute(sa.insert(cob_runs).values(tenant_id=tenant_id, business_date=day, status="RUNNING", started_at=now))
    return status


def _finish_run(conn: Connection, tenant_id: int, day: dt.date, now: dt.datetime, summary: CobSummary) -> None:
    conn.execute(
        sa.update(cob_runs)
        .where(cob_runs.c.tenant_id == tenant_id, cob_runs.c.business_date == day)
        .values(
            status="DONE", finished_at=now,
            loans_processed=cob_runs.c.loans_processed + summary.loans_processed,
            entries_posted=cob_runs.c.entries_posted + summary.entries_posted,
        )
    )


def _close_batch(
    conn: Connection, actor: Actor, day: dt.date, ids: list[uuid.UUID], products: dict, policy: ClassificationPolicy,
) -> CobSummary:
    summary = CobSummary(day)
    # Re-checked under the row locks: a loan repaid off or closed meanwhile is no longer pending.
    query = _pending_query(actor.tenant_id, day, loans).where(loans.c.id.in_(ids)).order_by(loans.c.id).with_for_update()
    rows = conn.execute(query).all()
    if not rows:
        return summary
    versions = {r.id: r.schedule_version for r in rows}
    grouped = load_installments(conn, actor.tenant_id, [r.id for r in rows], versions, open_before=day + dt.timedelta(days=1))
    observed = [r.id for r in rows if r.class_floor is not None]
    if observed:
        # A missed payment restarts a restructured loan's observation period from its future
        # repayment dates, which the open installments alone do not show.
        grouped.update(load_installments(conn, actor.tenant_id, observed, versions))
    nets: dict[str, dict[str, int]] = {}
    loan_updates, installment_updates, details, snapshots = [], [], [], []
    batch = {"accrued": 0, "penalties": 0, "non_accrual": 0}
    for row in rows:
        product = _product(conn, actor.tenant_id, row.product_code, row.product_version, products)
        before = state_from_rows(row, grouped[row.id])
        state, moves, totals = before, [], {"accrued": 0, "suspended": 0, "penalty": 0, "late_fees": 0, "fees": 0, "credit": 0, "provision": 0}
        current = row.last_cob_date + dt.timedelta(days=1)
        while current <= day and state.status is LoanStatus.ACTIVE:
            state, day_moves, facts = servicing.close_day(state, product, current, policy)
            moves += day_moves
            _add_facts(totals, facts, batch)
            current += dt.timedelta(days=1)
        state = _at(state, day)
        net = nets.setdefault(product.currency, {})
        for code, amount in net_by_account(moves, product.gl_accounts).items():
            net[code] = net.get(code, 0) + amount
        values = loan_values(state, policy)
        loan_updates.append({"id": row.id, **values, "updated_at": actor.now,
                             "closed_on": day if state.status is not LoanStatus.ACTIVE else None})
        installment_updates += [
            (row.id, row.schedule_version, a) for b, a in zip(before.installments, state.installments) if a != b
        ]
        # A performing loan's day is its accrual and provision, both visible in its snapshot; a
        # detail row is written when something else happened (penalty, fee, credit, status).
        if any(totals[k] for k in ("suspended", "penalty", "late_fees", "fees", "credit")) or state.non_accrual != before.non_accrual:
            details.append((row.id, product.currency, totals))
        snapshots.append(_snapshot(actor.tenant_id, day, row, state, values))
    entry_ids = _post_batch(conn, actor, day, nets, len(rows), summary)
    _save_batch(conn, actor, loan_updates, installment_updates)
    _insert_details(conn, actor, day, details, entry_ids)
    insert_rows(conn, loan_snapshots, snapshots)
    summary.loans_processed = len(rows)
    summary.accrued = batch["accrued"]
    summary.penalties = batch["penalties"]
    summary.entered_non_accrual = batch["non_accrual"]
    return summary


def _at(state: LoanState, day: dt.date) -> LoanState:
    if state.status is not LoanStatus.ACTIVE or state.last_cob_date == day:  # close_day sets it
        return state
    return state._replace(last_cob_date=day)


def _snapshot(tenant_id: int, day: dt.date, row: sa.Row, state: LoanState, values: dict) -> dict:
    return {
        "tenant_id": tenant_id, "business_date": day, "loan_id": row.id, "product_code": row.product_code,
        "status": values["status"], "currency": state.currency, "principal": state.principal,
        "interest": state.interest, "fee": state.fee, "penalty": state.penalty, "allowance": state.allowance,
        "dpd": state.dpd, "bucket": values["bucket"], "loan_class": values["loan_class"], "non_accrual": state.non_accrual,
    }


def _add_facts(totals: dict, facts: servicing.DayFacts, batch: dict) -> None:
    totals["accrued"] += facts.accrued
    totals["suspended"] += facts.suspended
    totals["penalty"] += facts.penalty
    totals["late_fees"] += facts.late_fees
    totals["fees"] += facts.fees_recognised
    totals["credit"] += facts.credit_applied
    totals["provision"] += facts.provision_change
    batch["accrued"] += facts.accrued
    batch["penalties"] += facts.penalty
    batch["non_accrual"] += int(facts.entered_non_accrual)


def _product(conn: Connection, tenant_id: int, code: str, version: int, cache: dict) -> Product:
    # The catalogue keeps committed versions for the process (a version never changes), so a
    # close of business after the first reads no product rows.
    key = (code, version)
    if key not in cache:
        cache[key] = get_product(conn, tenant_id, code, version)
    return cache[key]


def _post_batch(conn: Connection, actor: Actor, day: dt.date, nets: dict, loan_count: int, summary: CobSummary) -> dict[str, uuid.UUID]:
    entry_ids = {}
    for currency, net in sorted(nets.items()):
        draft = entry_for(
            {code: amount for code, amount in net.items() if amount}, currency, day,
            f"close of business {day}: accruals, penalties, fees and provisions of {loan_count} loans",
            {"cob_date": day.isoformat(), "loans": loan_count, workflow_key: cob_workflow},
        )
        if draft is not None:
            entry_ids[currency] = ledger.post_entry(conn, actor, draft).id
            summary.entries_posted += 1
    return entry_ids


def _save_batch(conn: Connection, actor: Actor, loan_updates: list[dict], installment_updates: list) -> None:
    loan_columns = [c for c in loan_updates[0] if c != "id"] if loan_updates else []
    update_rows(conn, loans, ("tenant_id", "id"), loan_columns, [{**row, "tenant_id": actor.tenant_id} for row in loan_updates])
    save_installments(conn, actor.tenant_id, installment_updates)


def _insert_details(conn: Connection, actor: Actor, day: dt.date, details: list, entry_ids: dict) -> None:
    if not details:
        return
    insert_rows(
        conn,
        loan_transactions,
        [
            {
                "tenant_id": actor.tenant_id, "id": transaction_id, "loan_id": loan_id, "type": "CLOSE_OF_BUSINESS",
                "effective_date": day, "currency": currency, "amount": totals["accrued"],
                "interest": totals["accrued"] + totals["suspended"], "penalty": totals["penalty"],
                "fee": totals["late_fees"] + totals["fees"], "principal": 0, "overpayment": -totals["credit"],
                "journal_entry_id": entry_ids.get(currency), "details": json.dumps(totals, sort_keys=True),
                "actor": actor.name, "recorded_at": actor.now,
            }
            for transaction_id, (loan_id, currency, totals) in zip(uuid7s(len(details)), details)
        ],
    )
