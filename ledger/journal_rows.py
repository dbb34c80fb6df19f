"""What posting entries writes, built in Python: the rows of entries and postings, the balance
movements, the audit events and their canonical bodies, with fresh time-ordered ids and the hashes
the audit chain covers. Nothing here touches the database (ledger.store.journal writes the rows).
"""
from __future__ import annotations

import contextlib
import gc
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from ledger.actor import Actor
from ledger.ids import uuid7
from ledger.model import EntryDraft, PostedEntry, content_hash, json_text, request_hash
from ledger.store.audit_log import event_rows
from ledger.store.balances import Movement


class EntryRows(NamedTuple):
    """What posting entries writes (fresh ids included) and the entries as posted."""

    entries: list[dict]
    postings: list[dict]
    movements: list[Movement]
    events: list[dict]
    posted: list[PostedEntry]


def entry_rows(
    actor: Actor, drafts: Sequence[EntryDraft], metadata_texts: Sequence[str], extra_events: Sequence[Mapping] = ()
) -> EntryRows:
    tenant_id, now, actor_name = actor.tenant_id, actor.now, actor.name
    entry_rows, posting_rows, movements, events, posted = [], [], [], [], []
    for draft, metadata_text in zip(drafts, metadata_texts):
        entry_id = uuid7()  # time-ordered: the keys grow at the indexes' right-hand edge (ledger.ids)
        day = draft.effective_date
        request_digest = request_hash(draft, metadata_text)
        digest = content_hash(entry_id, request_digest, actor_name)
        entry_rows.append(
            {
                "tenant_id": tenant_id, "id": entry_id, "effective_date": day,
                "recorded_at": now, "description": draft.description,
                "metadata": metadata_text, "actor": actor_name,
                "idempotency_key": draft.idempotency_key, "request_hash": request_digest,
                "reverses_entry_id": draft.reverses_entry_id, "content_hash": digest,
            }
        )
        for line_no, p in enumerate(draft.postings, start=1):
            posting_rows.append(
                {
                    "tenant_id": tenant_id, "entry_id": entry_id, "line_no": line_no,
                    "account_code": p.account_code, "currency": p.currency, "amount_minor": p.amount_minor,
                    "effective_date": day,
                }
            )
            movements.append((p.account_code, p.currency, day, p.amount_minor))
        events.append(posted_event(entry_id, draft, digest))
        posted.append(
            PostedEntry(
                tenant_id, entry_id, day, now, draft.description,
                dict(draft.metadata), actor_name, tuple(draft.postings), draft.idempotency_key,
                draft.reverses_entry_id, digest,
            )
        )
    events.extend(dict(e) for e in extra_events)
    return EntryRows(entry_rows, posting_rows, movements, event_rows(actor, events), posted)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a batch is written (and back on after, as it was).

    A 10,000-entry import allocates some 100,000 objects, none of them cyclic garbage; each time
    they cross the collector's thresholds a full collection scans every live object again (about
    45 ms here, a sixth of the batch). Reference counting still frees everything as usual.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def batch_event(id_texts: Sequence[str], digests: Sequence[str], postings: int, reference: str) -> dict:
    return {
        "action": "journal_entries.imported",
        "entity_type": "journal_batch",
        "entity_id": uuid7(),
        "before": None,
        "after": batch_event_body(id_texts, digests, postings, reference),
    }


def batch_event_body(id_texts: Sequence[str], digests: Sequence[str], postings: int, reference: str) -> str:
    """canonical_json of {"reference", "entries": [[id, content hash], ...], "postings"}, written out by
    hand (a test holds the two equal): ids and hashes need no escaping, and an import's body is ~1 MB."""
    entries = ",".join(f'["{i}","{h}"]' for i, h in zip(id_texts, digests))
    return f'{{"entries":[{entries}],"postings":{int(postings)},"reference":{json_text(reference or None)}}}'


def posted_event(entry_id: uuid.UUID, draft: EntryDraft, digest: str) -> dict:
    reversal = draft.reverses_entry_id is not None
    return {
        "action": "journal_entry.reversed" if reversal else "journal_entry.posted",
        "entity_type": "journal_entry",
        "entity_id": entry_id,
        "before": None,
        "after": posted_event_body(draft, digest),
    }


def posted_event_body(draft: EntryDraft, digest: str) -> str:
    """canonical_json of {"content_hash", "effective_date", "description", "postings": [[account, currency,
    minor], ...], "idempotency_key", "reverses"}, written out by hand (a property test holds the two
    equal): every posted entry pays for it, and the general encoder cost ~7 µs of the client's ~50."""
    postings = ",".join(
        f"[{json_text(p.account_code)},{json_text(p.currency)},{int(p.amount_minor)}]" for p in draft.postings
    )
    reverses = f'"{draft.reverses_entry_id}"' if draft.reverses_entry_id is not None else "null"
    return (
        f'{{"content_hash":"{digest}","description":{json_text(draft.description)},'
        f'"effective_date":"{draft.effective_date.isoformat()}","idempotency_key":{json_text(draft.idempotency_key)},'
        f'"postings":[{postings}],"reverses":{reverses}}}'
    )
