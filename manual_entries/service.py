"""Submit, approve, reject and cancel manual journal entries (maker-checker).

Every function runs inside the caller's transaction (ledger.unit_of_work.run_in_transaction)
and writes its audit event there too, so a request and its history change together or not at all.
A submission is validated as fully as a posting (balance, amounts, accounts open and accepting the
currency) so the maker hears about a mistake at once; approval posts through ledger.service and so
checks everything again against the chart as it is then (an account may have closed meanwhile).
"""
from __future__ import annotations

import dataclasses
import json
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger import service as ledger_service
from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.model import EntryDraft, PostedEntry, canonical_metadata, check_accounts, request_hash, validate_draft
from ledger.queries import entry_id_for_key, load_accounts, open_child_codes
from ledger.idempotency import run_once
from ledger.unit_of_work import record_event
from manual_entries.errors import UnknownEntryRequest
from manual_entries.model import Decision, EntryRequest, RequestStatus, check_decision, postings_from_json, postings_to_json
from manual_entries.tables import journal_entry_requests as requests

entity_type = "journal_entry_request"
submit_operation = "journal_entry_request.submit"  # the idempotency service's name for a submission
requests_page_size_max = 100


def submit_entry(conn: Connection, actor: Actor, draft: EntryDraft) -> tuple[EntryRequest, bool]:
    """A PENDING request for `draft` (actor = the maker), and whether it replays an earlier submission."""
    if draft.reverses_entry_id is not None:
        raise ledger_errors.InvalidEntry("a manual entry request does not reverse an entry; use reverse_entry")
    validate_draft(draft)
    chart = load_accounts(conn, actor.tenant_id, sorted({p.account_code for p in draft.postings}))
    check_accounts(draft, chart, lambda code: open_child_codes(conn, actor.tenant_id, code))
    digest = request_hash(draft)
    submitted: list[EntryRequest] = []

    def submit(c: Connection) -> dict:
        submitted.append(_submit(c, actor, draft, digest))
        return {"request_id": str(submitted[0].id)}

    once = run_once(conn, actor, draft.idempotency_key, digest, submit, operation=submit_operation)
    if submitted:
        return submitted[0], False
    return _get(conn, actor, uuid.UUID(str(once.result["request_id"]))), True


def _submit(conn: Connection, actor: Actor, draft: EntryDraft, digest: str) -> EntryRequest:
    key = draft.idempotency_key
    if key is not None:
        # Entries posted before maker-checker (or by the CLI) hold keys too; approval would post under this key.
        posted = entry_id_for_key(conn, actor.tenant_id, key)
        if posted is not None:
            raise ledger_errors.IdempotencyConflict(
                f"idempotency key {key!r} was already used by journal entry {posted}", entry=str(posted)
            )
    request = EntryRequest(
        actor.tenant_id, uuid7(), RequestStatus.PENDING, draft, digest, actor.name, actor.now, None, None, None, None,
    )
    conn.execute(
        sa.insert(requests).values(
            tenant_id=actor.tenant_id, id=request.id, status=request.status.value, effective_date=draft.effective_date,
            description=draft.description, metadata=canonical_metadata(draft.metadata), postings=postings_to_json(draft.postings),
            idempotency_key=draft.idempotency_key, request_hash=digest, submitted_by=actor.name, submitted_at=actor.now,
        )
    )
    record_event(conn, actor, "journal_entry_request.submitted", entity_type, request.id, after=_submitted_state(request))
    return request


def approve_entry(conn: Connection, actor: Actor, request_id: uuid.UUID) -> tuple[EntryRequest, PostedEntry]:
    """Post the request's entry (actor = the checker, never the maker) and mark the request APPROVED."""
    request = _locked(conn, actor, request_id)
    check_decision(request, actor.name, Decision.APPROVE)
    # The client's key travels to the entry; without one, the request id keeps a second approval from posting twice.
    key = request.draft.idempotency_key or f"journal-entry-request:{request.id}"
    entry = ledger_service.post_entry(conn, actor, dataclasses.replace(request.draft, idempotency_key=key))
    decided = _decide(conn, actor, request, RequestStatus.APPROVED, None, entry.id)
    return decided, entry


def reject_entry(conn: Connection, actor: Actor, request_id: uuid.UUID, reason: str) -> EntryRequest:
    """A checker refuses the request; nothing is posted."""
    request = _locked(conn, actor, request_id)
    check_decision(request, actor.name, Decision.REJECT)
    return _decide(conn, actor, request, RequestStatus.REJECTED, reason, None)


def cancel_entry(conn: Connection, actor: Actor, request_id: uuid.UUID, reason: str | None = None) -> EntryRequest:
    """The maker withdraws their pending request; nothing is posted."""
    request = _locked(conn, actor, request_id)
    check_decision(request, actor.name, Decision.CANCEL)
    return _decide(conn, actor, request, RequestStatus.CANCELLED, reason, None)


def get_request(conn: Connection, tenant_id: int, request_id: uuid.UUID) -> EntryRequest | None:
    row = conn.execute(sa.select(requests).where(requests.c.tenant_id == tenant_id, requests.c.id == request_id)).first()
    return None if row is None else request_from_row(row)


def list_requests(
    conn: Connection, tenant_id: int, *, status: RequestStatus | None = None,
    after: tuple[object, uuid.UUID] | None = None, limit: int = 50,
) -> list[EntryRequest]:
    """Requests newest submitted first, keyset-paginated with `after` = (submitted_at, id)."""
    limit = max(1, min(limit, requests_page_size_max + 1))
    query = sa.select(requests).where(requests.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(requests.c.status == status.value)
    if after is not None:
        query = query.where(sa.tuple_(requests.c.submitted_at, requests.c.id) < sa.tuple_(*after))
    query = query.order_by(requests.c.submitted_at.desc(), requests.c.id.desc()).limit(limit)
    return [request_from_row(row) for row in conn.execute(query)]


def request_from_row(row: sa.Row) -> EntryRequest:
    draft = EntryDraft(
        row.effective_date, postings_from_json(row.postings), row.description, json.loads(row.metadata), row.idempotency_key,
    )
    return EntryRequest(
        row.tenant_id, row.id, RequestStatus(row.status), draft, row.request_hash, row.submitted_by, row.submitted_at,
        row.decided_by, row.decided_at, row.decision_reason, row.journal_entry_id,
    )


def _locked(conn: Connection, actor: Actor, request_id: uuid.UUID) -> EntryRequest:
    # FOR UPDATE: two checkers deciding at once are serialised; the second finds the request decided.
    return _get(conn, actor, request_id, lock=True)


def _get(conn: Connection, actor: Actor, request_id: uuid.UUID, *, lock: bool = False) -> EntryRequest:
    query = sa.select(requests).where(requests.c.tenant_id == actor.tenant_id, requests.c.id == request_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        # Another tenant's request reads exactly like one that does not exist.
        raise UnknownEntryRequest(f"no journal entry request with id {request_id}", request=str(request_id))
    return request_from_row(row)


def _decide(
    conn: Connection, actor: Actor, request: EntryRequest, status: RequestStatus, reason: str | None, entry_id: uuid.UUID | None,
) -> EntryRequest:
    updated = conn.execute(
        sa.update(requests)
        .where(requests.c.tenant_id == actor.tenant_id, requests.c.id == request.id, requests.c.status == RequestStatus.PENDING.value)
        .values(status=status.value, decided_by=actor.name, decided_at=actor.now, decision_reason=reason, journal_entry_id=entry_id)
    ).rowcount
    assert updated == 1, f"request {request.id} was decided under our lock"
    record_event(
        conn, actor, f"journal_entry_request.{status.value.lower()}", entity_type, request.id,
        before={"status": request.status.value},
        after={"status": status.value, "journal_entry": None if entry_id is None else str(entry_id)},
        reason=reason,
    )
    return dataclasses.replace(
        request, status=status, decided_by=actor.name, decided_at=actor.now, decision_reason=reason, journal_entry_id=entry_id,
    )


def _submitted_state(request: EntryRequest) -> dict:
    draft = request.draft
    return {
        "status": request.status.value,
        "effective_date": draft.effective_date.isoformat(),
        "description": draft.description,
        "postings": [[p.account_code, p.currency, p.amount_minor] for p in draft.postings],
        "idempotency_key": draft.idempotency_key,
        "request_hash": request.request_hash,
    }
