"""Ledger services: the one path into the journal.

Every function takes a Connection inside a unit of work (ledger.unit_of_work) and an Actor naming
the tenant; nothing here can read or write another tenant's rows. User mistakes are
typed LedgerErrors raised before the work commits, so the caller's transaction rolls back whole:
before anything is written, except that an import on PostgreSQL checks most drafts while its rows
stream to the server (see _post).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors

# Tenants and the chart live in ledger.accounts; callers have always found them here too.
from ledger.accounts import close_account, create_tenant, open_account, tenant_id_for  # noqa: F401
from ledger.actor import Actor
from ledger.ids import uuid7s
from ledger.journal_rows import batch_event, collector_paused, entry_rows
from ledger.model import (
    Account,
    AccountStatus,
    EntryDraft,
    PostedEntry,
    check_accounts,
    content_hash,
    header_account_error,
    request_hash,
    reversal_postings,
    validate_draft,
)
from ledger.ownership import marked, owning_workflow
from ledger.queries import entries_from_rows, get_entry, load_accounts, open_child_codes
from ledger.store.audit_log import event_rows
from ledger.store.balances import DayTotals
from ledger.store.bulk import copy_rows, move_counters
from ledger.store.bulk import entry_columns as bulk_entry_columns
from ledger.store.bulk import posting_columns as bulk_posting_columns
from ledger.store.journal import (
    StaleChart,
    accounts_for_posting,
    locked_accounts,
    raise_period_closed,
    write_entries,
)
from ledger.store.periods import check_open
from ledger.store.tables import journal_entries
from ledger.unit_of_work import record_events

entries_per_batch_max = 20_000
ids_per_chunk = 500  # an import mints its entries' ids as they stream, this many at a time
stale_chart_attempts_max = 5
T = TypeVar("T")


def post_entry(conn: Connection, actor: Actor, draft: EntryDraft, *, events: Sequence[Mapping] = ()) -> PostedEntry:
    """Post one balanced entry; a replayed idempotency key with the same request returns the original."""
    return post_entries(conn, actor, [draft], events=events)[0]


def post_entries(
    conn: Connection, actor: Actor, drafts: Sequence[EntryDraft], *, events: Sequence[Mapping] = ()
) -> list[PostedEntry]:
    """Post many entries in the caller's transaction: all of them or, on any error, none.

    `events` are the caller's own audit events for the same change (dicts as for
    ledger.store.audit_log.record_events: action, entity_type, entity_id, before, after, reason);
    they are written with the entries, in the same statement on PostgreSQL.
    """
    return _post(conn, actor, drafts, events, imported=None)


def import_entries(
    conn: Connection, actor: Actor, drafts: Sequence[EntryDraft], *, reference: str | None = None
) -> list[PostedEntry]:
    """Bulk import (a migration from another system, a statement file): post_entries for big batches.

    The same checks, idempotency and all-or-nothing as post_entries; what differs is the audit
    trail and the road in. The batch is one audited change: one `journal_entries.imported` event
    (entity `journal_batch`) records every entry's id and content hash, in posting order, so the
    chain covers each entry exactly as a per-entry event would and `loanbook verify` checks them
    against it. On PostgreSQL the rows go in by binary COPY with time-ordered ids (ledger.store.bulk),
    and the accounts are held FOR SHARE until commit, so none closes meanwhile (the lock reads their
    state, which the process's chart must match, see ledger.store.journal.locked_accounts).
    `reference` (a file name, a migration run) is kept in the event.
    """
    if reference is not None and len(reference) > 200:
        raise errors.InvalidEntry("an import reference is at most 200 characters")
    return _post(conn, actor, drafts, (), imported=reference or "")


def _post(
    conn: Connection, actor: Actor, drafts: Sequence[EntryDraft], events: Sequence[Mapping], *, imported: str | None
) -> list[PostedEntry]:
    if len(drafts) > entries_per_batch_max:
        raise errors.BatchTooLarge(f"at most {entries_per_batch_max} entries per batch")
    # An import on PostgreSQL checks each draft as its postings stream to the server (_import_entries),
    # which indexes one chunk while Python checks the next; an error there ends the COPY, and the
    # transaction writes nothing. Drafts a replay or a reversal looks up are checked first.
    streamed = imported is not None and conn.dialect.name == "postgresql"
    first = [d for d in drafts if not streamed or d.idempotency_key is not None or d.reverses_entry_id is not None]
    checked_first = {id(d): validate_draft(d) for d in first}
    metadata_texts = [checked_first.get(id(d)) for d in drafts]
    codes = sorted({p.account_code for d in drafts for p in d.postings})
    chart = _checked_chart(conn, actor, first, codes, locked=imported is not None)
    replays = _find_replays(conn, actor, drafts)
    entries: list[PostedEntry | None] = [replays.get(d.idempotency_key) if d.idempotency_key else None for d in drafts]
    fresh = [i for i, entry in enumerate(entries) if entry is None]
    _check_reversal_targets(conn, actor, [drafts[i] for i in fresh])
    if fresh:
        fresh_drafts, fresh_texts = [drafts[i] for i in fresh], [metadata_texts[i] for i in fresh]
        if imported is not None:
            with collector_paused():
                posted = _import_entries(conn, actor, fresh_drafts, fresh_texts, chart, imported)
        else:
            posted = _with_fresh_chart(
                lambda: _checked_chart(conn, actor, drafts, codes), chart,
                lambda checked: _insert_entries(conn, actor, fresh_drafts, fresh_texts, checked, events),
            )
        for i, entry in zip(fresh, posted):
            entries[i] = entry
    elif events:
        record_events(conn, actor, [dict(e) for e in events])
    return entries  # type: ignore[return-value]


def _with_fresh_chart(
    check: Callable[[], dict[str, Account]], chart: dict[str, Account], write: Callable[[dict[str, Account]], T]
) -> T:
    """write(chart); while the posting statement finds an account changed (closed) or being closed
    since the chart was read, nothing was written: check() the drafts against the chart afresh and retry."""
    for attempt in range(1, stale_chart_attempts_max + 1):
        try:
            return write(chart)
        except StaleChart:
            if attempt == stale_chart_attempts_max:
                raise errors.TransactionRetriesExhausted(
                    f"the accounts kept changing while this was posted ({attempt} attempts); try again"
                ) from None
            chart = check()  # raises AccountClosed once a close committed
    raise AssertionError("unreachable: the loop returns or raises")


def _checked_chart(
    conn: Connection, actor: Actor, drafts: Sequence[EntryDraft], codes: list[str], *, locked: bool = False
) -> dict[str, Account]:
    if locked and conn.dialect.name == "postgresql":
        chart = locked_accounts(conn, actor.tenant_id, codes)
    elif locked:
        chart = load_accounts(conn, actor.tenant_id, codes, lock="share")
    else:
        chart = accounts_for_posting(conn, actor.tenant_id, codes)
    # Every draft's accounts, the ones an import checks while streaming too: a header is refused here,
    # where the refusal can name the header's children (no read can run in the middle of a COPY).
    for code in codes:
        account = chart.get(code)
        if account is not None and account.is_header and account.status is AccountStatus.OPEN:
            raise header_account_error(account, open_child_codes(conn, actor.tenant_id, code))
    for draft in drafts:
        check_accounts(draft, chart)
    return chart


def reverse_entry(
    conn: Connection,
    actor: Actor,
    entry_id: uuid.UUID,
    effective_date: dt.date,
    *,
    description: str | None = None,
    idempotency_key: str | None = None,
    workflow: str | None = None,
) -> PostedEntry:
    """Post the exact mirror of an entry, linked to it. An entry can be reversed once.

    An entry a domain workflow owns (ledger.ownership) is refused with EntryOwnedByWorkflow: the
    mirror would move the GL and leave the workflow's own state (a loan, a receipt) as it was.
    That workflow itself, correcting its own state in the same transaction, names itself as
    `workflow`; the mirror is then marked as its own too.
    """
    original = get_entry(conn, actor.tenant_id, entry_id)
    if original is None:
        _raise_unknown_entry(conn, actor, entry_id)
    owner = owning_workflow(original.metadata)
    if owner is not None and owner != workflow:
        raise errors.EntryOwnedByWorkflow(
            f"entry {original.id} belongs to the {owner.replace('_', ' ')} workflow; correct it through that workflow, "
            "not with a journal reversal",
            workflow=owner, entry=str(original.id),
        )
    metadata: dict[str, object] = {"reverses": str(original.id), **({"reason": actor.reason} if actor.reason else {})}
    draft = EntryDraft(
        effective_date=effective_date,
        postings=reversal_postings(original.postings),
        description=description or f"Reversal of {original.description or original.id}"[:500],
        metadata=marked(metadata, owner) if owner is not None else metadata,
        idempotency_key=idempotency_key,
        reverses_entry_id=original.id,
    )
    return post_entry(conn, actor, draft)


def _raise_unknown_entry(conn: Connection, actor: Actor, entry_id: uuid.UUID) -> None:
    elsewhere = conn.execute(
        sa.select(journal_entries.c.tenant_id).where(journal_entries.c.id == entry_id).limit(1)
    ).first()
    if elsewhere is not None:
        raise errors.CrossTenantReference(f"entry {entry_id} does not belong to this tenant", entry=str(entry_id))
    raise errors.UnknownEntry(f"no journal entry with id {entry_id}", entry=str(entry_id))


def _find_replays(conn: Connection, actor: Actor, drafts: Sequence[EntryDraft]) -> dict[str, PostedEntry]:
    keys = [d.idempotency_key for d in drafts if d.idempotency_key]
    if not keys:
        return {}
    if len(set(keys)) != len(keys):
        raise errors.IdempotencyConflict("the same idempotency key appears twice in one batch")
    rows = conn.execute(
        sa.select(journal_entries).where(
            journal_entries.c.tenant_id == actor.tenant_id, journal_entries.c.idempotency_key.in_(keys)
        )
    ).all()
    if not rows:
        return {}
    by_key = {d.idempotency_key: d for d in drafts if d.idempotency_key}
    for row in rows:
        if row.request_hash != request_hash(by_key[row.idempotency_key]):
            raise errors.IdempotencyConflict(
                f"idempotency key {row.idempotency_key!r} was already used for a different request",
                entry=str(row.id),
            )
    # One query for all the replayed entries' postings (a re-run import replays thousands).
    return {entry.idempotency_key: entry for entry in entries_from_rows(conn, actor.tenant_id, rows)}


def _check_reversal_targets(conn: Connection, actor: Actor, drafts: Sequence[EntryDraft]) -> None:
    targets = [d.reverses_entry_id for d in drafts if d.reverses_entry_id is not None]
    if not targets:
        return
    if len(set(targets)) != len(targets):
        raise errors.AlreadyReversed("the same entry is reversed twice in one batch")
    found = set(
        conn.execute(
            sa.select(journal_entries.c.id).where(
                journal_entries.c.tenant_id == actor.tenant_id, journal_entries.c.id.in_(targets)
            )
        ).scalars()
    )
    for target in targets:
        if target not in found:
            _raise_unknown_entry(conn, actor, target)
    already = conn.execute(
        sa.select(journal_entries.c.reverses_entry_id, journal_entries.c.id).where(
            journal_entries.c.tenant_id == actor.tenant_id, journal_entries.c.reverses_entry_id.in_(targets)
        )
    ).first()
    if already is not None:
        raise errors.AlreadyReversed(
            f"entry {already.reverses_entry_id} was already reversed by entry {already.id}",
            entry=str(already.reverses_entry_id),
        )


def _insert_entries(
    conn: Connection, actor: Actor, drafts: Sequence[EntryDraft], metadata_texts: Sequence[str], chart: dict[str, Account],
    extra_events: Sequence[Mapping] = (),
) -> list[PostedEntry]:
    rows = entry_rows(actor, drafts, metadata_texts, extra_events)
    write_entries(conn, actor, chart, rows.entries, rows.postings, rows.movements, rows.events)
    return rows.posted


def _import_entries(
    conn: Connection, actor: Actor, drafts: Sequence[EntryDraft], metadata_texts: Sequence[str | None],
    chart: dict[str, Account], reference: str,
) -> list[PostedEntry]:
    """Write the drafts; a draft whose metadata text is None is checked (validate_draft, check_accounts) on the way."""
    tenant_id, now, actor_name = actor.tenant_id, actor.now, actor.name
    ids: list[uuid.UUID] = []
    id_texts: list[str] = []  # once: the content hashes and the batch's event both spell them out
    entry_rows: list[tuple] = []
    digests: list[str] = []
    day_totals = DayTotals()

    # A generator: on PostgreSQL the server indexes each chunk of postings while this makes the next
    # (ids, checks, hashes, counter totals). Each entry's row is made as its postings go by; the
    # entries are copied after them.
    def posting_rows() -> Iterator[tuple]:
        add = day_totals.add
        for n, (draft, metadata_text) in enumerate(zip(drafts, metadata_texts)):
            if n % ids_per_chunk == 0:  # still strictly increasing from chunk to chunk (ledger.ids)
                chunk = uuid7s(min(ids_per_chunk, len(drafts) - n))
                ids.extend(chunk)
                id_texts.extend(str(i) for i in chunk)
            entry_id, id_text = ids[n], id_texts[n]
            if metadata_text is None:  # not checked yet (see _post)
                metadata_text = validate_draft(draft)
                check_accounts(draft, chart)
            day = draft.effective_date
            request_digest = request_hash(draft, metadata_text)
            digest = content_hash(id_text, request_digest, actor_name)
            digests.append(digest)
            entry_rows.append((tenant_id, entry_id, day, now, draft.description, metadata_text, actor_name,
                               draft.idempotency_key, request_digest, draft.reverses_entry_id, digest))
            for line_no, p in enumerate(draft.postings, start=1):
                add(p.account_code, p.currency, day, p.amount_minor)
                yield tenant_id, entry_id, line_no, p.account_code, p.currency, p.amount_minor, day

    def posted() -> list[PostedEntry]:
        return [
            PostedEntry(
                tenant_id, i, d.effective_date, now, d.description, dict(d.metadata), actor_name, tuple(d.postings),
                d.idempotency_key, d.reverses_entry_id, h,
            )
            for d, i, h in zip(drafts, ids, digests)
        ]

    def import_event() -> dict:
        return batch_event(id_texts, digests, sum(len(d.postings) for d in drafts), reference)

    slots = {code: account.balance_slots for code, account in chart.items()}
    if conn.dialect.name == "postgresql":
        earliest = min(d.effective_date for d in drafts)
        if not check_open(conn, tenant_id, earliest):  # the posting statement's check, for the COPY road
            raise_period_closed(conn, tenant_id, earliest)
        copy_rows(conn, posting_rows(), entry_rows)
        # The server adds to the counters while the answer and the batch's audit event are made.
        answer, event = move_counters(conn, tenant_id, day_totals.rows(slots), lambda: (posted(), import_event()))
        record_events(conn, actor, [event])
        return answer
    posting_dicts = [dict(zip(bulk_posting_columns, row)) for row in posting_rows()]
    entry_dicts = [dict(zip(bulk_entry_columns, row)) for row in entry_rows]
    movements = [(r["account_code"], r["currency"], r["effective_date"], r["amount_minor"]) for r in posting_dicts]
    write_entries(conn, actor, chart, entry_dicts, posting_dicts, movements, event_rows(actor, [import_event()]))
    return posted()
