"""Journal entries from a JSON Lines file, for `loanbook import` (ledger.service.import_entries).

One entry per line:

    {"date": "2026-01-05", "description": "Opening capital", "metadata": {"source_row": 17},
     "idempotency_key": "legacy-17",
     "postings": [{"account": "1100", "currency": "CNY", "debit": "1000.00"},
                  {"account": "3100", "currency": "CNY", "credit": "1000.00"}]}

Amounts are decimal strings (a JSON number is refused, as everywhere in loanbook: 0.1 has no exact
binary form). `description`, `metadata` and `idempotency_key` are optional; blank lines are skipped.
A file is checked whole before anything is written: `read_entries` returns the drafts and the bad
lines as data, each error naming its line, so one run lists every mistake (up to
`line_errors_max`) and a file can be fixed and imported again; `check_against_chart` adds the
lines whose accounts do not exist, are closed or refuse the currency. Idempotency keys make a
second run skip the entries a first, interrupted one committed.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from ledger import errors
from ledger.model import Account, EntryDraft, check_accounts, credit, debit, validate_draft

entry_fields = {"date", "description", "metadata", "idempotency_key", "postings"}
posting_fields = {"account", "currency", "debit", "credit"}
line_errors_max = 100  # a file with more bad lines than this is reported up to here: the rest is likely the same mistake


class ImportLineError(errors.InvalidEntry):
    """A line of an import file that is not an entry; `line` is its 1-based number."""

    def __init__(self, line: int, cause: errors.LedgerError | str) -> None:
        message = cause.message if isinstance(cause, errors.LedgerError) else cause
        super().__init__(f"line {line}: {message}", line=line)
        self.line = line
        if isinstance(cause, errors.LedgerError):
            self.code = cause.code  # the underlying reason's stable code (UNBALANCED_ENTRY, FLOAT_AMOUNT_REFUSED, ...)


def _refuse_number(text: str) -> Decimal:
    raise errors.FloatAmountRefused(f"{text} is a JSON number; write amounts as decimal strings, e.g. \"{text}\"")


NumberedDraft = tuple[int, EntryDraft]


def read_entries(
    lines: Iterable[bytes | str], *, errors_max: int = line_errors_max
) -> tuple[list[NumberedDraft], list[ImportLineError]]:
    """(drafts with their line numbers, bad lines): every non-blank line is one or the other.

    Lines may come as bytes (a file opened in binary): each is decoded on its own, so text that is
    not UTF-8 is a bad line like any other instead of ending the read. An idempotency key used by
    an earlier line of the file is a bad line too (IDEMPOTENCY_CONFLICT naming both lines): within
    one batch the second would fail the key's unique index, across batches it would be taken for a
    replay of the first. Reading stops once `errors_max` lines were bad (the errors list then holds
    that many).
    """
    drafts: list[NumberedDraft] = []
    problems: list[ImportLineError] = []
    key_lines: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            problems.append(ImportLineError(number, f"not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line)"))
        else:
            if not line.strip():
                continue
            problem = _read_line(number, line, key_lines, drafts)
            if problem is not None:
                problems.append(problem)
        if len(problems) >= errors_max:
            break
    return drafts, problems


def _read_line(number: int, line: str, key_lines: dict[str, int], drafts: list[NumberedDraft]) -> ImportLineError | None:
    """Append the line's draft to `drafts`, or return why it is not one."""
    try:
        draft = _draft(json.loads(line, parse_float=_refuse_number))
    except errors.LedgerError as exc:
        return ImportLineError(number, exc)
    except json.JSONDecodeError as exc:
        return ImportLineError(number, f"not JSON ({exc.msg} at column {exc.colno})")
    if draft.idempotency_key is not None:
        first = key_lines.setdefault(draft.idempotency_key, number)
        if first != number:
            return ImportLineError(number, errors.IdempotencyConflict(
                f"idempotency key {draft.idempotency_key!r} is already used on line {first}; each entry needs its own"
            ))
    drafts.append((number, draft))
    return None


def check_against_chart(
    drafts: Sequence[NumberedDraft], chart: Mapping[str, Account], *, errors_max: int = line_errors_max,
    children_of: Callable[[str], Sequence[str]] | None = None,
) -> list[ImportLineError]:
    """The lines whose postings name an account that is missing, closed, a header or refuses the currency.

    `children_of` names a header's child accounts for the message (see ledger.model.check_accounts).
    """
    problems: list[ImportLineError] = []
    for number, draft in drafts:
        try:
            check_accounts(draft, chart, children_of)
        except errors.LedgerError as exc:
            problems.append(ImportLineError(number, exc))
            if len(problems) >= errors_max:
                break
    return problems


def _draft(value: object) -> EntryDraft:
    if not isinstance(value, dict):
        raise errors.InvalidEntry("each line is a JSON object")
    unknown = set(value) - entry_fields
    if unknown:
        raise errors.InvalidEntry(f"unknown field(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(entry_fields))}")
    try:
        day = dt.date.fromisoformat(value["date"])
    except (KeyError, TypeError, ValueError):
        raise errors.InvalidEntry("date must be an ISO date, e.g. \"2026-01-05\"") from None
    postings = value.get("postings")
    if not isinstance(postings, list):
        raise errors.InvalidEntry("postings must be a list of {account, currency, debit or credit}")
    legs = []
    for leg in postings:
        if not isinstance(leg, dict) or set(leg) - posting_fields or not {"account", "currency"} <= set(leg) \
                or ("debit" in leg) == ("credit" in leg):
            raise errors.InvalidEntry("each posting is {account, currency} with exactly one of debit or credit")
        amount = leg.get("debit", leg.get("credit"))
        if isinstance(amount, (int, float, Decimal)) and not isinstance(amount, bool):
            _refuse_number(str(amount))
        if not isinstance(amount, str) or not isinstance(leg["account"], str) or not isinstance(leg["currency"], str):
            raise errors.InvalidEntry("account, currency and the amount are strings")
        legs.append((debit if "debit" in leg else credit)(leg["account"], amount, leg["currency"]))
    description, metadata, key = value.get("description", ""), value.get("metadata", {}), value.get("idempotency_key")
    if not isinstance(description, str) or (key is not None and not isinstance(key, str)):
        raise errors.InvalidEntry("description and idempotency_key are strings")
    draft = EntryDraft(day, tuple(legs), description, metadata, key)
    validate_draft(draft)
    return draft
