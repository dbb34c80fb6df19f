"""Manual entry requests as data: statuses, the legal transitions, who may take them. No database here."""
from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from dataclasses import dataclass

from ledger.model import EntryDraft, Posting, canonical_json
from manual_entries.errors import IllegalTransition, MakerChecker


class RequestStatus(str, enum.Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"  # posted: the request links the journal entry
    REJECTED = "REJECTED"  # by a checker, with a reason
    CANCELLED = "CANCELLED"  # withdrawn by its maker


class Decision(str, enum.Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    CANCEL = "CANCEL"


outcome_of = {Decision.APPROVE: RequestStatus.APPROVED, Decision.REJECT: RequestStatus.REJECTED, Decision.CANCEL: RequestStatus.CANCELLED}


@dataclass(frozen=True, slots=True)
class EntryRequest:
    tenant_id: int
    id: uuid.UUID
    status: RequestStatus
    draft: EntryDraft
    request_hash: str
    submitted_by: str
    submitted_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_reason: str | None
    journal_entry_id: uuid.UUID | None


def check_decision(request: EntryRequest, actor_name: str, decision: Decision) -> RequestStatus:
    """The status `decision` leads to, or the typed reason it may not be taken by `actor_name`."""
    if request.status is not RequestStatus.PENDING:
        raise IllegalTransition(
            f"the request is {request.status.value}; only a PENDING request can be decided", status=request.status.value
        )
    maker = request.submitted_by == actor_name
    if decision is Decision.APPROVE and maker:
        raise MakerChecker("nobody approves a manual journal entry they submitted; another person must check it")
    if decision is Decision.REJECT and maker:
        raise MakerChecker("a maker does not reject their own request; cancel it instead")
    if decision is Decision.CANCEL and not maker:
        raise MakerChecker("only the maker cancels a request; a checker rejects it")
    return outcome_of[decision]


def postings_to_json(postings: tuple[Posting, ...]) -> str:
    return canonical_json([[p.account_code, p.currency, p.amount_minor] for p in postings])


def postings_from_json(text: str) -> tuple[Posting, ...]:
    return tuple(Posting(code, currency, int(minor)) for code, currency, minor in json.loads(text))
