"""Reconciling a bank account: automatic matching, manual match and unmatch, and booking bank items.

`auto_reconcile` loads the account's open lines through a date and the postings to the account not yet
matched, runs the tenant's rules (reconciliation.matching), stores the matches (the link tables'
keys refuse a line or a posting matched twice) and the proposals. Money in that the rules leave
unmatched and that names a loan (its id in the reference or the narrative) becomes that loan's
repayment through loans' servicing path, keyed on the bank line so a re-run never books it twice,
and is matched at once. Manual commands are audited with actor and reason.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from sqlalchemy.engine import Connection

from ledger import errors as ledger_errors
from ledger import service as ledger
from ledger.actor import Actor
from ledger.ids import uuid7, uuid7s
from ledger.model import EntryDraft, Posting
from ledger.money import from_minor
from ledger.ownership import marked
from ledger.queries import AccountPosting, account_postings, account_roles, entry_id_for_key, get_entry, load_accounts, reversal_of
from ledger.unit_of_work import record_event
from loans.pii import FieldCipher
from reconciliation import collector, loan_side, matching
from reconciliation.errors import AlreadyMatched, MatchUnbalanced, NotBooked, UnknownStatementLine
from reconciliation.store import repository

reason_length_max = 500
lines_per_manual_match_max = 100
book_kinds = ("BANK_FEE", "BANK_INTEREST", "OTHER", "SUSPENSE")

reconciliation_workflow = "reconciliation"  # the marker on the entries this workflow books (ledger.ownership)


class AutoResult(NamedTuple):
    matched: int  # lines matched now
    proposed: int
    unmatched: int
    repayments_booked: int


def rules_for(conn: Connection, tenant_id: int) -> tuple[Mapping[str, object], ...]:
    """The tenant's matching rules in priority order: its saved list, else matching.default_rules."""
    saved = repository.rules_definition(conn, tenant_id)
    return matching.default_rules if saved is None else matching.check_rules(saved)


def rules_saved(conn: Connection, tenant_id: int) -> bool:
    """Whether the tenant saved its own rules (else it runs matching.default_rules)."""
    return repository.rules_definition(conn, tenant_id) is not None


def save_rules(conn: Connection, actor: Actor, rules: Sequence[Mapping[str, object]]) -> tuple[Mapping[str, object], ...]:
    """Replace the tenant's rules (checked strictly: a parameter the kind does not take is refused); audited
    with the list before and after, and the actor's reason."""
    checked = matching.check_rules(rules, strict=True)
    before = repository.rules_definition(conn, actor.tenant_id)
    repository.save_rules(conn, actor.tenant_id, json.dumps(list(checked), sort_keys=True), actor.name, actor.now)
    record_event(conn, actor, "reconciliation_rules.saved", "reconciliation_rules", actor.tenant_id,
                 before=None if before is None else {"rules": before}, after={"rules": list(checked)}, reason=actor.reason)
    return checked


def auto_reconcile(conn: Connection, actor: Actor, code: str, through: dt.date, *, book_loans: bool = True,
                   cipher: FieldCipher | None = None) -> AutoResult:
    """Match what is unambiguous through `through`, propose the rest; money in for a loan is booked as
    its repayment (reconciliation.loan_side) unless `book_loans` is False.

    `cipher` (the borrowers' field cipher) lets the `payer_account` rule look a line's payer account
    up among borrowers' registered accounts; without it that rule finds nothing."""
    with collector.paused():  # every open line and posting lives to the end: nothing for the collector to find
        return _auto_reconcile(conn, actor, code, through, book_loans, cipher)


def _auto_reconcile(conn: Connection, actor: Actor, code: str, through: dt.date, book_loans: bool,
                    cipher: FieldCipher | None) -> AutoResult:
    _account(conn, actor, code)
    rules = rules_for(conn, actor.tenant_id)
    window = max((int(matching.with_defaults(rule).get("days", 0)) for rule in rules), default=0)
    rows = repository.open_lines(conn, actor.tenant_id, code, through)
    if not rows:
        return AutoResult(0, 0, 0, 0)
    currency = rows[0].currency
    taken = repository.matched_posting_keys(conn, actor.tenant_id, code)
    postings = [p for p in account_postings(conn, actor.tenant_id, code, currency, date_to=through + dt.timedelta(days=window))
                if (p.entry_id, p.line_no) not in taken]
    by_key = {(p.entry_id, p.line_no): p for p in postings}
    payers = (loan_side.payer_loans(conn, actor.tenant_id, cipher, rows)
              if cipher is not None and any(rule["kind"] == "payer_account" for rule in rules) else {})
    lines = [matching.Line(row.id, row.booking_date, row.amount_minor, _references(row.end_to_end_id, row.bank_reference),
                           row.remittance, row.counterparty_name,
                           tuple(str(loan.loan_id) for loan in payers[row.counterparty_account])
                           if payers and row.counterparty_account in payers else ())
             for row in rows]
    decisions = matching.reconcile(lines, [_candidate(p) for p in postings], rules)
    booked = 0
    if book_loans:
        decided = {line_id for d in decisions if d.matched for line_id in d.line_ids}
        leftovers = [row for row in rows if row.id not in decided and row.amount_minor > 0]
        made = loan_side.book_repayments(conn, actor, leftovers, payers) if leftovers else {}
        for line_id, (posting, rule) in made.items():
            by_key[(posting.entry_id, posting.line_no)] = posting
            decisions = [d for d in decisions if line_id not in d.line_ids]
            decisions.append(matching.Decision((line_id,), ((posting.entry_id, posting.line_no),), rule, "1.00", True))
        booked = len(made)
    _store_decisions(conn, actor, code, rows, decisions, by_key)
    matched = sum(len(d.line_ids) for d in decisions if d.matched)
    proposed = sum(len(d.line_ids) for d in decisions if not d.matched)
    record_event(conn, actor, "reconciliation.auto", "bank_account", code, after={
        "through": through.isoformat(), "matched": matched, "proposed": proposed, "repayments_booked": booked,
    })
    return AutoResult(matched, proposed, len(rows) - matched - proposed, booked)


def _references(end_to_end_id: str | None, bank_reference: str | None) -> tuple[str, ...]:
    """A line's references, the end-to-end id first, without the empty ones."""
    if end_to_end_id:
        return (end_to_end_id, bank_reference) if bank_reference else (end_to_end_id,)
    return (bank_reference,) if bank_reference else ()


_metadata_references = ("reference", "end_to_end_id", "loan_id", "loan_number", "contract_number")


def _candidate(posting: AccountPosting) -> matching.Candidate:
    meta = posting.metadata
    entry_id = str(posting.entry_id)
    references = (posting.idempotency_key, entry_id) if posting.idempotency_key else (entry_id,)
    if meta:  # most entries carry no metadata: no loop over the names for them
        references += tuple(r for r in (str(meta[name]) for name in _metadata_references if meta.get(name)) if r)
    return matching.Candidate((posting.entry_id, posting.line_no), posting.effective_date, posting.amount_minor,
                              references, posting.description)


def _store_decisions(conn: Connection, actor: Actor, code: str, rows, decisions, by_key) -> None:
    match_rows, line_rows, posting_rows, updates = [], [], [], []
    decided = set()
    match_ids = iter(uuid7s(sum(1 for decision in decisions if decision.matched)))
    for decision in decisions:
        decided.update(decision.line_ids)
        if decision.matched:
            match_id = next(match_ids)
            match_rows.append({"tenant_id": actor.tenant_id, "id": match_id, "bank_account_code": code, "rule": decision.rule,
                               "score": decision.score, "matched_at": actor.now, "matched_by": actor.name, "reason": None})
            line_rows += [{"tenant_id": actor.tenant_id, "line_id": line_id, "match_id": match_id} for line_id in decision.line_ids]
            posting_rows += [_posting_row(actor, code, match_id, by_key[key]) for key in decision.posting_keys]
        else:
            proposal = json.dumps({"rule": decision.rule, "score": decision.score, "lines": [str(i) for i in decision.line_ids],
                                   "postings": [[str(e), n] for e, n in decision.posting_keys]})
            updates += [{"line_id": line_id, "status": "PROPOSED", "proposal": proposal} for line_id in decision.line_ids]
    updates += [{"line_id": row.id, "status": "UNMATCHED", "proposal": None} for row in rows
                if row.id not in decided and row.status != "UNMATCHED"]
    repository.insert_matches(conn, match_rows, line_rows, posting_rows)
    repository.mark_matched(conn, actor.tenant_id, code)
    repository.set_statuses(conn, actor.tenant_id, updates)


def _posting_row(actor: Actor, code: str, match_id: uuid.UUID, posting: AccountPosting) -> dict:
    return {"tenant_id": actor.tenant_id, "entry_id": posting.entry_id, "posting_line_no": posting.line_no, "match_id": match_id,
            "bank_account_code": code, "amount_minor": posting.amount_minor, "effective_date": posting.effective_date}


def match_lines(conn: Connection, actor: Actor, code: str, line_ids: Sequence[uuid.UUID],
                posting_keys: Sequence[tuple[uuid.UUID, int]], reason: str) -> uuid.UUID:
    """A person's match: the lines and postings must sum to the same amount and be matched to nothing yet."""
    _check_reason(reason)
    if not 0 < len(line_ids) <= lines_per_manual_match_max or len(posting_keys) > lines_per_manual_match_max:
        raise ledger_errors.InvalidInput(f"give 1 to {lines_per_manual_match_max} lines and at most as many postings",
                                         field="lineIds")
    rows = _lines(conn, actor, code, line_ids)
    if any(row.status == "MATCHED" for row in rows.values()):
        raise AlreadyMatched("a line is already matched; unmatch it first")
    currency = next(iter(rows.values())).currency
    wanted = set(posting_keys)
    found = {(p.entry_id, p.line_no): p for p in account_postings(conn, actor.tenant_id, code, currency, date_to=dt.date.max)
             if (p.entry_id, p.line_no) in wanted}
    missing = wanted - set(found)
    if missing:
        raise ledger_errors.UnknownEntry(f"{len(missing)} posting(s) are not postings to {code} in {currency}")
    if wanted & repository.matched_posting_keys(conn, actor.tenant_id, code):
        raise AlreadyMatched("a posting is already matched; unmatch it first")
    lines_total = sum(row.amount_minor for row in rows.values())
    postings_total = sum(p.amount_minor for p in found.values())
    if lines_total != postings_total:
        raise MatchUnbalanced(
            f"the lines sum to {from_minor(lines_total, currency)} and the postings to {from_minor(postings_total, currency)} {currency}; "
            "book the difference (bookStatementLine) or choose other items"
        )
    match_id = uuid7()
    repository.insert_matches(
        conn,
        [{"tenant_id": actor.tenant_id, "id": match_id, "bank_account_code": code, "rule": "manual", "score": "1.00",
          "matched_at": actor.now, "matched_by": actor.name, "reason": reason}],
        [{"tenant_id": actor.tenant_id, "line_id": line_id, "match_id": match_id} for line_id in rows],
        [_posting_row(actor, code, match_id, p) for p in found.values()],
    )
    repository.set_statuses(conn, actor.tenant_id, [{"line_id": i, "status": "MATCHED", "proposal": None} for i in rows])
    record_event(conn, actor, "reconciliation.matched", "reconciliation_match", match_id, after={
        "lines": [str(i) for i in rows], "postings": [[str(e), n] for e, n in found]})
    return match_id


def unmatch_lines(conn: Connection, actor: Actor, code: str, line_ids: Sequence[uuid.UUID], reason: str) -> list[uuid.UUID]:
    """Undo the matches holding these lines (all their lines return to UNMATCHED); returns those lines."""
    _check_reason(reason)
    _lines(conn, actor, code, line_ids)
    match_ids = sorted(repository.match_of_lines(conn, actor.tenant_id, line_ids))
    if not match_ids:
        raise ledger_errors.InvalidInput("none of these lines is matched", field="lineIds")
    freed = repository.delete_matches(conn, actor.tenant_id, match_ids)
    repository.set_statuses(conn, actor.tenant_id, [{"line_id": i, "status": "UNMATCHED", "proposal": None} for i in freed])
    record_event(conn, actor, "reconciliation.unmatched", "bank_account", code, after={
        "matches": [str(m) for m in match_ids], "lines": [str(i) for i in freed]})
    return freed


def book_line(conn: Connection, actor: Actor, code: str, line_id: uuid.UUID, kind: str, account_code: str | None,
              reason: str) -> uuid.UUID:
    """Book a bank item the books lack (a fee, interest, or money in to suspense) and match the line to it.

    Fees, interest and other items post through ledger.service (metadata workflow=reconciliation, so
    they are the reconciliation's to undo); SUSPENSE goes through loans' path for unidentified receipts. The entry is keyed on the line: booking it again
    replays the same entry. Returns the journal entry id.
    """
    _check_reason(reason)
    if kind not in book_kinds:
        raise ledger_errors.InvalidInput(f"kind must be one of {', '.join(book_kinds)}", field="kind")
    row = _lines(conn, actor, code, [line_id])[line_id]
    if row.status == "MATCHED":
        raise AlreadyMatched("the line is already matched; unmatch it first")
    key = _booking_key(conn, actor.tenant_id, line_id)
    amount = from_minor(abs(row.amount_minor), row.currency)
    if kind == "SUSPENSE":
        if row.amount_minor <= 0:
            raise ledger_errors.InvalidInput("only money in goes to suspense", field="kind")
        entry_id = loan_side.receive_to_suspense(conn, actor, amount, row.currency, row.booking_date,
                                        (row.remittance or row.counterparty_name or row.bank_reference or "bank line")[:200], key)
    else:
        if not account_code:
            raise ledger_errors.InvalidInput("name the account to book to", field="accountCode")
        if account_code not in load_accounts(conn, actor.tenant_id, [account_code]):
            raise ledger_errors.UnknownAccount(f"no account with code {account_code!r}", account=account_code)
        legs = (Posting(code, row.currency, row.amount_minor), Posting(account_code, row.currency, -row.amount_minor))
        draft = EntryDraft(row.booking_date, legs, f"{kind.lower().replace('_', ' ')}: {row.remittance or ''}"[:500].strip(),
                           marked({"kind": kind, "bank_line_id": str(line_id), "reason": reason}, reconciliation_workflow),
                           idempotency_key=key)
        entry_id = ledger.post_entry(conn, actor, draft).id
    posting = next(p for p in account_postings(conn, actor.tenant_id, code, row.currency, date_to=row.booking_date,
                                                date_from=row.booking_date) if p.entry_id == entry_id)
    match_lines(conn, actor, code, [line_id], [(posting.entry_id, posting.line_no)], reason)
    return entry_id


def unbook_line(conn: Connection, actor: Actor, code: str, line_id: uuid.UUID, day: dt.date | None, reason: str) -> uuid.UUID:
    """Undo book_line: unmatch the line (it returns to UNMATCHED, with every line of its match) and post
    the reversal of the entry booked for it, dated `day` (by default the booked entry's own date; a
    closed period needs a date in the open one). The line may then be booked again, afresh.

    Only an entry of this workflow is unbooked here: money booked to suspense is the loans' receipt,
    corrected through the receipts' own operations. Returns the reversing entry's id.
    """
    _check_reason(reason)
    row = _lines(conn, actor, code, [line_id])[line_id]
    booked = _live_booking(conn, actor.tenant_id, line_id)
    if row.status != "MATCHED" or booked is None:
        raise NotBooked(f"statement line {line_id} is not matched to an entry booked for it; nothing to unbook",
                        line_id=str(line_id))
    entry = get_entry(conn, actor.tenant_id, booked)
    assert entry is not None, f"an idempotency key names entry {booked}, which does not exist"
    unmatch_lines(conn, actor, code, [line_id], reason)
    reversal = ledger.reverse_entry(
        conn, actor, entry.id, day or entry.effective_date, description=f"unbooked: {entry.description}"[:500],
        idempotency_key=f"{entry.idempotency_key}:reversal", workflow=reconciliation_workflow,
    )
    return reversal.id


def _booking_keys(line_id: uuid.UUID) -> Iterator[str]:
    """The idempotency keys of a line's bookings, in order: each unbooking frees the next one."""
    yield f"bank-line:{line_id}"
    for generation in itertools.count(2):
        yield f"bank-line:{line_id}:{generation}"


def _booking_key(conn: Connection, tenant_id: int, line_id: uuid.UUID) -> str:
    """The key a booking of the line takes: its live booking's (booking again replays it), else the first unused."""
    for key in _booking_keys(line_id):
        entry_id = entry_id_for_key(conn, tenant_id, key)
        if entry_id is None or reversal_of(conn, tenant_id, entry_id) is None:
            return key
    raise AssertionError("unreachable: the keys never end")


def _live_booking(conn: Connection, tenant_id: int, line_id: uuid.UUID) -> uuid.UUID | None:
    """The entry booked for the line and not reversed, if any."""
    for key in _booking_keys(line_id):
        entry_id = entry_id_for_key(conn, tenant_id, key)
        if entry_id is None:
            return None
        if reversal_of(conn, tenant_id, entry_id) is None:
            return entry_id
    raise AssertionError("unreachable: the keys never end")


def bank_account_role(conn: Connection, tenant_id: int) -> str | None:
    return account_roles(conn, tenant_id).get("bank")


def _account(conn: Connection, actor: Actor, code: str):
    account = load_accounts(conn, actor.tenant_id, [code]).get(code)
    if account is None:
        raise ledger_errors.UnknownAccount(f"no account with code {code!r}", account=code)
    return account


def _lines(conn: Connection, actor: Actor, code: str, line_ids: Sequence[uuid.UUID]) -> dict:
    rows = repository.lines_by_id(conn, actor.tenant_id, set(line_ids), lock=True)
    missing = [i for i in line_ids if i not in rows or rows[i].bank_account_code != code]
    if missing:
        raise UnknownStatementLine(f"no statement line {missing[0]} on bank account {code}", line_id=str(missing[0]))
    return rows


def _check_reason(reason: str) -> None:
    if not reason or len(reason) > reason_length_max:
        raise ledger_errors.InvalidInput(f"a reason of 1 to {reason_length_max} characters is required", field="reason")
