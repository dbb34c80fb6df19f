"""Independent checks of the books: what `loanbook verify` runs.

Everything is recomputed from the stored rows: the audit hash chain, each entry's balance and
content hash (against the content hash recorded in its chained audit event), and every stored
balance counter against the sum of its postings. Returns discrepancies as data, every one of
them, not just the first.

Clients may post while it runs. Every check reads one snapshot (on PostgreSQL a REPEATABLE READ
transaction; on SQLite a deferred read transaction, which in WAL mode is one snapshot too), so the
books are seen as of one moment. Events committed in that snapshot but not yet chained by the
sealer are `pending_events`, not discrepancies: their queue row commits with them, and an entry
whose audit event is still queued is checked against the content hash that queued event records.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.audit import chain_hash, genesis_hash
from ledger.model import EntryDraft, Posting, content_hash, request_hash
from ledger.store.sealer import event_from_row
from ledger.store.tables import (
    account_balances,
    account_period_balances,
    accounts,
    audit_chain,
    audit_chain_heads,
    audit_events,
    audit_unsealed,
    journal_entries,
    postings,
    tenants,
)

discrepancies_shown_max = 1000


@dataclass
class Report:
    tenants: int = 0
    entries: int = 0
    postings: int = 0
    audit_events: int = 0
    chained_events: int = 0
    balance_rows: int = 0
    pending_events: int = 0  # committed, on the sealer's queue, not yet chained
    discrepancies: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    def problem(self, text: str) -> None:
        self.discrepancies.append(text)


def verify_books(conn: Connection, tenant_ids: list[int] | None = None) -> Report:
    """Check the tenants' books; on a connection not yet in a transaction, all in one snapshot."""
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        conn.execution_options(isolation_level="REPEATABLE READ")
    report = Report()
    if tenant_ids is None:
        tenant_ids = list(conn.execute(sa.select(tenants.c.id).order_by(tenants.c.id)).scalars())
    for tenant_id in tenant_ids:
        report.tenants += 1
        recorded_hashes, queued_hashes = _verify_chain(conn, tenant_id, report)
        _verify_entries(conn, tenant_id, report, recorded_hashes, queued_hashes)
        _verify_balances(conn, tenant_id, report)
    return report


def _verify_chain(conn: Connection, tenant_id: int, report: Report) -> tuple[dict[str, str], dict[str, str]]:
    """Recompute the chain; return each entry's content hash as its chained event recorded it, and as
    a queued (committed, not yet chained) event records it."""
    previous, expected_seq = genesis_hash, 1
    recorded: dict[str, str] = {}
    chained_ids = set()
    query = (
        sa.select(audit_chain.c.seq, audit_chain.c.prev_hash, audit_chain.c.hash, audit_events)
        .select_from(
            audit_chain.outerjoin(
                audit_events,
                sa.and_(audit_events.c.tenant_id == audit_chain.c.tenant_id, audit_events.c.id == audit_chain.c.event_id),
            )
        )
        .where(audit_chain.c.tenant_id == tenant_id)
        .order_by(audit_chain.c.seq)
    )
    for row in conn.execution_options(yield_per=5000).execute(query):
        report.chained_events += 1
        if row.seq != expected_seq:
            report.problem(f"tenant {tenant_id}: audit chain has a gap: expected seq {expected_seq}, found {row.seq}")
            expected_seq = row.seq
        if row.id is None:
            report.problem(f"tenant {tenant_id}: audit chain seq {row.seq} points at a missing event")
        elif row.prev_hash != previous or chain_hash(previous, event_from_row(row)) != row.hash:
            report.problem(f"tenant {tenant_id}: audit event seq {row.seq} ({row.action} {row.entity_id}) does not match its hash")
        else:
            chained_ids.add(row.id)
            _record_hashes(row, recorded)
        previous = row.hash
        expected_seq += 1
    head = conn.execute(sa.select(audit_chain_heads).where(audit_chain_heads.c.tenant_id == tenant_id)).first()
    if head is None or head.last_seq != expected_seq - 1 or head.last_hash != previous:
        report.problem(f"tenant {tenant_id}: audit chain head does not match the last sealed event")
    pending = set(
        conn.execute(sa.select(audit_unsealed.c.event_id).where(audit_unsealed.c.tenant_id == tenant_id)).scalars()
    )
    for event_id in conn.execute(sa.select(audit_events.c.id).where(audit_events.c.tenant_id == tenant_id)).scalars():
        report.audit_events += 1
        if event_id not in chained_ids and event_id not in pending:
            report.problem(f"tenant {tenant_id}: audit event {event_id} is neither sealed nor waiting to be sealed")
    report.pending_events += len(pending)
    queued: dict[str, str] = {}
    if pending:
        queued_rows = conn.execute(
            sa.select(audit_events.c.entity_type, audit_events.c.entity_id, audit_events.c.after)
            .select_from(audit_unsealed.join(
                audit_events,
                sa.and_(audit_events.c.tenant_id == audit_unsealed.c.tenant_id, audit_events.c.id == audit_unsealed.c.event_id),
            ))
            .where(audit_unsealed.c.tenant_id == tenant_id, audit_events.c.entity_type.in_(("journal_entry", "journal_batch")))
        )
        for row in queued_rows:
            _record_hashes(row, queued)
    return recorded, queued


def _record_hashes(row: sa.Row, into: dict[str, str]) -> None:
    """The content hashes an audit event records: a journal entry's, or each entry of an import batch."""
    if row.entity_type == "journal_entry" and row.after:
        into[row.entity_id] = json.loads(row.after).get("content_hash")
    elif row.entity_type == "journal_batch" and row.after:  # ledger.service.import_entries
        into.update(json.loads(row.after).get("entries") or ())


def _verify_entries(
    conn: Connection, tenant_id: int, report: Report, recorded: dict[str, str], queued: dict[str, str]
) -> None:
    # Both streams are ordered by entry id and merged, so memory stays flat however large the books.
    legs_stream = conn.execution_options(yield_per=20000).execute(
        sa.select(postings).where(postings.c.tenant_id == tenant_id).order_by(postings.c.entry_id, postings.c.line_no)
    )
    entries_stream = conn.execution_options(yield_per=5000).execute(
        sa.select(journal_entries).where(journal_entries.c.tenant_id == tenant_id).order_by(journal_entries.c.id)
    )
    legs_by_entry = itertools.groupby(legs_stream, key=lambda leg: leg.entry_id)
    pending = next(legs_by_entry, None)
    for row in entries_stream:
        report.entries += 1
        while pending is not None and pending[0] < row.id:
            report.problem(f"tenant {tenant_id}: postings of entry {pending[0]} have no journal entry")
            report.postings += len(list(pending[1]))
            pending = next(legs_by_entry, None)
        legs = []
        if pending is not None and pending[0] == row.id:
            legs = list(pending[1])
            pending = next(legs_by_entry, None)
        report.postings += len(legs)
        entry_id = str(row.id)
        _verify_entry(row, legs, recorded.get(entry_id), queued.get(entry_id), report)
    while pending is not None:
        report.problem(f"tenant {tenant_id}: postings of entry {pending[0]} have no journal entry")
        report.postings += len(list(pending[1]))
        pending = next(legs_by_entry, None)


def _verify_entry(row: sa.Row, legs: list[sa.Row], recorded_hash: str | None, queued_hash: str | None, report: Report) -> None:
    label = f"tenant {row.tenant_id}: entry {row.id}"
    if len(legs) < 2:
        report.problem(f"{label} has {len(legs)} posting(s); an entry needs at least two")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.currency] += leg.amount_minor
        if leg.effective_date != row.effective_date:
            report.problem(f"{label} line {leg.line_no} has effective date {leg.effective_date}, not {row.effective_date}")
    for currency, total in sorted(totals.items()):
        if total != 0:
            report.problem(f"{label} does not balance in {currency} (off by {total} minor units)")
    draft = EntryDraft(
        effective_date=row.effective_date,
        postings=tuple(Posting(p.account_code, p.currency, p.amount_minor) for p in legs),
        description=row.description,
        metadata=json.loads(row.metadata),
        idempotency_key=row.idempotency_key,
        reverses_entry_id=row.reverses_entry_id,
    )
    digest = content_hash(row.id, request_hash(draft), row.actor)
    if digest != row.content_hash:
        report.problem(f"{label} was altered after posting: its content no longer matches its content hash")
    if recorded_hash is None and queued_hash is None:
        report.problem(f"{label} has no audit event recording it, sealed or pending sealing")
    elif recorded_hash is None:
        if queued_hash != digest:
            report.problem(f"{label} differs from what its audit event (pending sealing) recorded")
    elif recorded_hash != digest:
        report.problem(f"{label} differs from what its sealed audit event recorded")


def _verify_balances(conn: Connection, tenant_id: int, report: Report) -> None:
    p = postings
    # No foreign keys on the hot tables: check here that every posting names an account of its tenant.
    known = set(conn.execute(sa.select(accounts.c.code).where(accounts.c.tenant_id == tenant_id)).scalars())
    used = set(conn.execute(sa.select(p.c.account_code).where(p.c.tenant_id == tenant_id).distinct()).scalars())
    for code in sorted(used - known):
        report.problem(f"tenant {tenant_id}: postings name account {code}, which does not exist in the tenant")
    sums = conn.execute(
        sa.select(
            p.c.account_code,
            p.c.currency,
            p.c.effective_date,
            sa.func.sum(sa.case((p.c.amount_minor > 0, p.c.amount_minor), else_=0)),
            sa.func.sum(sa.case((p.c.amount_minor < 0, -p.c.amount_minor), else_=0)),
        )
        .where(p.c.tenant_id == tenant_id)
        .group_by(p.c.account_code, p.c.currency, p.c.effective_date)
    ).all()
    expected_current: dict = defaultdict(lambda: [0, 0])
    expected_periods: dict = defaultdict(lambda: [0, 0])
    for code, currency, day, debit, credit in sums:
        for key, target in [((code, currency), expected_current), *((k, expected_periods) for k in _period_keys(code, currency, day))]:
            target[key][0] += int(debit)
            target[key][1] += int(credit)
    b = account_balances
    stored_current = {
        (code, currency): [int(d), int(c)]
        for code, currency, d, c in conn.execute(
            sa.select(b.c.account_code, b.c.currency, sa.func.sum(b.c.debit_minor), sa.func.sum(b.c.credit_minor))
            .where(b.c.tenant_id == tenant_id)
            .group_by(b.c.account_code, b.c.currency)
        )
    }
    pb = account_period_balances
    stored_periods = {
        (code, currency, grain, start): [int(d), int(c)]
        for code, currency, grain, start, d, c in conn.execute(
            sa.select(
                pb.c.account_code, pb.c.currency, pb.c.grain, pb.c.period_start,
                sa.func.sum(pb.c.debit_minor), sa.func.sum(pb.c.credit_minor),
            )
            .where(pb.c.tenant_id == tenant_id)
            .group_by(pb.c.account_code, pb.c.currency, pb.c.grain, pb.c.period_start)
        )
    }
    report.balance_rows += len(stored_current) + len(stored_periods)
    _compare(tenant_id, "balance", expected_current, stored_current, report)
    _compare(tenant_id, "period balance", expected_periods, stored_periods, report)


def _period_keys(code: str, currency: str, day: dt.date) -> tuple[tuple, ...]:
    return (code, currency, "D", day), (code, currency, "M", day.replace(day=1)), (code, currency, "Y", day.replace(month=1, day=1))


def _compare(tenant_id: int, what: str, expected: dict, stored: dict, report: Report) -> None:
    for key in sorted(set(expected) | set(stored), key=str):
        want, have = expected.get(key, [0, 0]), stored.get(key, [0, 0])
        if want != have:
            where = " ".join(str(k) for k in key)
            report.problem(
                f"tenant {tenant_id}: stored {what} of {where} is debit {have[0]} / credit {have[1]}, "
                f"but its postings sum to debit {want[0]} / credit {want[1]}"
            )
