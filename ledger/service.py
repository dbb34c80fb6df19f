"""Ledger services: the one path into the journal.

Every function takes a Connection inside a unit of work (ledger.unit_of_work) and an Actor naming
the tenant; nothing here can read or write another tenant's rows. User mistakes are
typed LedgerErrors raised before the work commits, so the caller's transaction rolls back whole:
before anything is written, except that an import on PostgreSQL checks most drafts while its rows
stream to the server (see _post).
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors
from ledger.actor import Actor
from ledger.audit import genesis_hash
from ledger.chart import default_chart
from ledger.ids import uuid7s
from ledger.journal_rows import batch_event, collector_paused, entry_rows
from ledger.model import (
    Account,
    AccountStatus,
    AccountType,
    EntryDraft,
    PostedEntry,
    account_code_length_max,
    check_accounts,
    content_hash,
    header_account_error,
    normal_balance_of,
    request_hash,
    reversal_postings,
    validate_draft,
)
from ledger.money import currency_exponent
from ledger.ownership import owning_workflow
from ledger.queries import (
    account_from_row,
    currencies_to_text,
    entries_from_rows,
    get_entry,
    load_accounts,
    open_child_codes,
)
from ledger.store.audit_log import event_rows
from ledger.store.balances import DayTotals
from ledger.store.bulk import copy_rows, move_counters
from ledger.store.bulk import entry_columns as bulk_entry_columns
from ledger.store.bulk import posting_columns as bulk_posting_columns
from ledger.store.journal import (
    StaleChart,
    accounts_for_posting,
    lock_account_for_close,
    locked_accounts,
    raise_period_closed,
    write_entries,
)
from ledger.store.periods import check_open
from ledger.store.tables import (
    account_balances,
    accounts,
    audit_chain_heads,
    journal_entries,
    tenants,
)
from ledger.unit_of_work import record_event, record_events

entries_per_batch_max = 20_000
ids_per_chunk = 500  # an import mints its entries' ids as they stream, this many at a time
stale_chart_attempts_max = 5
T = TypeVar("T")
slug_pattern = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
code_pattern = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def create_tenant(conn: Connection, slug: str, name: str, *, actor_name: str, now: dt.datetime) -> int:
    """A tenant with its default chart of accounts and an empty audit chain; returns its id."""
    if not slug_pattern.match(slug or ""):
        raise errors.LedgerError("tenant slug must be 2-63 lowercase letters, digits or dashes")
    if not name or len(name) > 200:
        raise errors.LedgerError("tenant name must be 1 to 200 characters")
    if conn.execute(sa.select(tenants.c.id).where(tenants.c.slug == slug)).first():
        raise errors.TenantExists(f"a tenant with slug {slug!r} already exists")
    tenant_id = conn.execute(
        sa.insert(tenants).values(slug=slug, name=name, created_at=now).returning(tenants.c.id)
    ).scalar_one()
    conn.execute(sa.insert(audit_chain_heads).values(tenant_id=tenant_id, last_seq=0, last_hash=genesis_hash))
    actor = Actor(tenant_id, actor_name, now)
    record_event(conn, actor, "tenant.created", "tenant", tenant_id, after={"slug": slug, "name": name})
    for line in default_chart:
        open_account(
            conn, actor, line.code, line.name, line.type,
            parent_code=line.parent_code, role=line.role, balance_slots=line.balance_slots, is_header=line.is_header,
        )
    return tenant_id


def tenant_id_for(conn: Connection, slug: str) -> int:
    tenant_id = conn.execute(sa.select(tenants.c.id).where(tenants.c.slug == slug)).scalar()
    if tenant_id is None:
        raise errors.UnknownTenant(f"no tenant with slug {slug!r}")
    return tenant_id


def open_account(
    conn: Connection,
    actor: Actor,
    code: str,
    name: str,
    account_type: AccountType | str,
    *,
    parent_code: str | None = None,
    role: str | None = None,
    currencies: Sequence[str] | None = None,
    balance_slots: int = 1,
    is_header: bool = False,
) -> Account:
    """Open an account; a child names a header account of its own type as its parent.

    A header (`is_header`) groups the accounts under it and takes no postings: the one kind of
    account that may be a parent, so no account ever holds both its own postings and children.
    """
    try:
        account_type = AccountType(account_type)
    except ValueError:
        raise errors.InvalidAccount(f"unknown account type {account_type!r}") from None
    if not code or len(code) > account_code_length_max or not code_pattern.match(code):
        raise errors.InvalidAccount(f"account code {code!r} must be 1-{account_code_length_max} letters, digits, . _ -")
    if not name or len(name) > 200:
        raise errors.InvalidAccount("account name must be 1 to 200 characters")
    if not 1 <= balance_slots <= 64:
        raise errors.InvalidAccount("balance_slots must be between 1 and 64")
    if currencies is not None:
        currencies = tuple(sorted(set(currencies)))
        if not currencies:
            raise errors.InvalidAccount("currencies, when given, must name at least one currency")
        for currency in currencies:
            currency_exponent(currency)
    existing = load_accounts(conn, actor.tenant_id, [c for c in (code, parent_code) if c])
    if code in existing:
        raise errors.AccountExists(f"account {code} already exists")
    if parent_code is not None:
        parent = existing.get(parent_code)
        if parent is None:
            raise errors.UnknownAccount(f"parent account {parent_code!r} does not exist", account=parent_code)
        if parent.type is not account_type:
            raise errors.InvalidAccount(
                f"account {code} is {account_type.value} but its parent {parent_code} is {parent.type.value}"
            )
        if not parent.is_header:
            raise errors.InvalidAccount(
                f"account {parent_code} ({parent.name}) takes postings, so it cannot have child accounts; "
                "name a header account as the parent", account=parent_code,
            )
        if parent.status is not AccountStatus.OPEN:
            raise errors.AccountClosed(f"parent account {parent_code} is closed", account=parent_code)
    account = Account(
        actor.tenant_id, code, name, account_type, normal_balance_of(account_type), parent_code,
        AccountStatus.OPEN, currencies, balance_slots, is_header,
    )
    conn.execute(
        sa.insert(accounts).values(
            tenant_id=actor.tenant_id, code=code, name=name, type=account_type.value,
            normal_balance=account.normal_balance.value, parent_code=parent_code, role=role,
            status=AccountStatus.OPEN.value, currencies=currencies_to_text(currencies),
            balance_slots=balance_slots, is_header=is_header, created_at=actor.now,
        )
    )
    record_event(conn, actor, "account.opened", "account", code, after=_account_state(account, role))
    return account


def close_account(conn: Connection, actor: Actor, code: str) -> Account:
    """Close an account whose balance is zero in every currency; closed accounts refuse postings."""
    # Postings in flight to the account finish first (and show in its balance); new ones wait for us.
    lock_account_for_close(conn, actor.tenant_id, code)
    # The account row first: an import holding it FOR SHARE finishes (and its balance shows) before we look.
    account = load_accounts(conn, actor.tenant_id, [code], lock="update").get(code)
    if account is None:
        raise errors.UnknownAccount(f"no account with code {code!r}", account=code)
    if account.status is AccountStatus.CLOSED:
        raise errors.AccountClosed(f"account {code} is already closed", account=code)
    # Lock the balance rows so a concurrent posting either lands before we look or waits for us.
    balance_rows = conn.execute(
        sa.select(account_balances.c.currency, account_balances.c.debit_minor, account_balances.c.credit_minor)
        .where(account_balances.c.tenant_id == actor.tenant_id, account_balances.c.account_code == code)
        .with_for_update()
    ).all()
    totals: dict[str, int] = {}
    for row in balance_rows:
        totals[row.currency] = totals.get(row.currency, 0) + row.debit_minor - row.credit_minor
    if any(totals.values()):
        raise errors.AccountNotEmpty(f"account {code} still has a balance; move it before closing", account=code)
    children = conn.execute(
        sa.select(accounts.c.code).where(
            accounts.c.tenant_id == actor.tenant_id, accounts.c.parent_code == code, accounts.c.status == "OPEN"
        ).limit(1)
    ).first()
    if children:
        raise errors.InvalidAccount(f"account {code} has open child accounts; close them first", account=code)
    conn.execute(
        sa.update(accounts)
        .where(accounts.c.tenant_id == actor.tenant_id, accounts.c.code == code)
        .values(status=AccountStatus.CLOSED.value, closed_at=actor.now)
    )
    record_event(conn, actor, "account.closed", "account", code, before={"status": "OPEN"}, after={"status": "CLOSED"})
    return account_from_row(
        conn.execute(sa.select(accounts).where(accounts.c.tenant_id == actor.tenant_id, accounts.c.code == code)).one()
    )


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
) -> PostedEntry:
    """Post the exact mirror of an entry, linked to it. An entry can be reversed once.

    An entry a domain workflow owns (ledger.ownership) is refused with EntryOwnedByWorkflow: the
    mirror would move the GL and leave the workflow's own state (a loan, a receipt) as it was.
    """
    original = get_entry(conn, actor.tenant_id, entry_id)
    if original is None:
        _raise_unknown_entry(conn, actor, entry_id)
    workflow = owning_workflow(original.metadata)
    if workflow is not None:
        raise errors.EntryOwnedByWorkflow(
            f"entry {original.id} belongs to the {workflow.replace('_', ' ')} workflow; correct it through that workflow, "
            "not with a journal reversal",
            workflow=workflow, entry=str(original.id),
        )
    draft = EntryDraft(
        effective_date=effective_date,
        postings=reversal_postings(original.postings),
        description=description or f"Reversal of {original.description or original.id}"[:500],
        metadata={"reverses": str(original.id), **({"reason": actor.reason} if actor.reason else {})},
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


def _account_state(account: Account, role: str | None) -> dict:
    return {
        "code": account.code, "name": account.name, "type": account.type.value,
        "normal_balance": account.normal_balance.value, "parent_code": account.parent_code, "role": role,
        "currencies": list(account.currencies) if account.currencies else None,
        "balance_slots": account.balance_slots, "status": account.status.value, "is_header": account.is_header,
    }
