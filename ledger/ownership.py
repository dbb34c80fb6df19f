"""Which workflow owns a journal entry, read from the entry's metadata.

A domain workflow (loan servicing, close of business, bank reconciliation) keeps state beside the
journal: a loan's balances, a receipt's application, a statement line's match. Reversing one of its
entries with the generic `ledger.service.reverse_entry` would move the general ledger without that
state, and the sub-ledger and GL would disagree from then on. So a workflow marks what it posts with
`metadata["workflow"] = "<name>"`, and the generic reversal refuses a marked entry: the workflow's
own command corrects it (and posts its own entries to do so).

Entries posted before workflows marked them are recognised by the metadata they always carried.
The ledger knows workflows only by name: it imports none of them.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping

workflow_key = "workflow"
workflow_name_length_max = 60

def _uuid_text(value: object) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value).version is not None
    except ValueError:
        return False


def _iso_date(value: object) -> bool:
    try:
        return isinstance(value, str) and dt.date.fromisoformat(value) is not None
    except ValueError:
        return False


# (workflow, test of the metadata): how unmarked entries of the workflows that predate the marker are
# recognised, by exactly what they wrote (an imported entry's own "loan_id": "L-1" is not one of them).
legacy_markers: tuple[tuple[str, Callable[[Mapping[str, object]], bool]], ...] = (
    ("loans", lambda m: _uuid_text(m.get("loan_id")) and isinstance(m.get("type"), str)),
    ("close_of_business", lambda m: _iso_date(m.get("cob_date")) and isinstance(m.get("loans"), int)),
    ("loans", lambda m: m.get("type") == "UNIDENTIFIED_RECEIPT"),
)


def owning_workflow(metadata: Mapping[str, object]) -> str | None:
    """The workflow an entry with this metadata belongs to, or None for an entry of the ledger's own (manual, imported)."""
    marked = metadata.get(workflow_key)
    if isinstance(marked, str) and marked:
        return marked
    for workflow, recognised in legacy_markers:
        if recognised(metadata):
            return workflow
    return None


def marked(metadata: Mapping[str, object], workflow: str) -> dict[str, object]:
    """A copy of `metadata` carrying the workflow's marker."""
    assert workflow and len(workflow) <= workflow_name_length_max, workflow
    return {**metadata, workflow_key: workflow}
