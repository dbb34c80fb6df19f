"""The matching engine: bank lines against the ledger's postings to the bank account, by rules as data.

Pure: no database. `reconcile(lines, candidates, rules)` returns decisions; each pairs some lines with
some postings, names the rule that found it and a score, and is either a match (unambiguous) or a
proposal for a person to confirm. No line and no posting appears in two decisions.

Rules run in the tenant's order (`default_rules` unless it saved its own); each sees only what the
rules before it left. Kinds:

- `reference`: the line's end-to-end id or bank reference equals a reference of postings (their
  entry's idempotency key or metadata `reference`/`end_to_end_id`/`loan_number`) whose amounts sum to
  the line's: a match (one posting, or a batch under one reference).
- `reference_in_text`: a word of the remittance text is such a reference (a loan or contract number).
- `payer_account`: the line's payer account is a borrower's registered bank account (the caller
  looks it up through the blind index and gives the borrower's loans as `Line.payer_loans`); a
  posting of one of those loans (its metadata `loan_id`) with the same amount within `days` is a
  match when it is the only one, else the nearest is proposed. The loan side then books a payer's
  line that the books lack as the loan's repayment (reconciliation.loan_side).
- `amount_date`: same amount, dates within `days`; a match only when the line and the posting are each
  the other's only candidate, or when counterparty name similarity (rapidfuzz, within that block only)
  picks one candidate above `name_similarity_min` and no other; otherwise a proposal.
- `one_to_many` / `many_to_one`: a line equal to the sum of 2..`size_max` postings within the window
  (a batch disbursement), or a posting to the sum of lines (a split repayment); pairs are found by
  hashing over the window, larger sets among `candidates_max` items only, and only a unique
  combination is a match.
- `amount_tolerance`: amounts within `tolerance_minor` (bank charges deducted): always a proposal.
"""
from __future__ import annotations

import bisect
import heapq
import datetime as dt
import itertools
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from rapidfuzz import fuzz, utils

from reconciliation.errors import InvalidRules

score_step = Decimal("0.01")  # a decision's score is shown to the hundredth, e.g. "0.95"

PostingKey = tuple[object, int]  # (entry id, line number)

rule_kinds = ("reference", "reference_in_text", "payer_account", "amount_date", "one_to_many", "many_to_one", "amount_tolerance")
default_rules: tuple[Mapping[str, object], ...] = (
    {"kind": "reference"},
    {"kind": "reference_in_text"},
    {"kind": "payer_account", "days": 3},
    {"kind": "amount_date", "days": 3, "name_similarity_min": 85},
    {"kind": "one_to_many", "days": 3, "size_max": 4, "candidates_max": 8},
    {"kind": "many_to_one", "days": 3, "size_max": 4, "candidates_max": 8},
    {"kind": "amount_tolerance", "days": 3, "tolerance_minor": 5000},
)
rules_max = 20
days_max = 31
size_max_limit = 6
candidates_max_limit = 20
_token = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{3,}")


class Line(NamedTuple):
    id: object
    booking_date: dt.date
    amount_minor: int
    references: tuple[str, ...] = ()
    remittance: str | None = None
    counterparty_name: str | None = None
    payer_loans: tuple[str, ...] = ()  # loan ids of the borrowers registered with the payer's account


class Candidate(NamedTuple):
    key: PostingKey
    effective_date: dt.date
    amount_minor: int
    references: tuple[str, ...] = ()
    name: str | None = None


class Decision(NamedTuple):
    line_ids: tuple[object, ...]
    posting_keys: tuple[PostingKey, ...]
    rule: str
    score: str  # "1.00" for an exact reference; lower as the evidence thins
    matched: bool  # False: a proposal


# Each kind's parameters and the value a rule that leaves one out runs with.
rule_parameters: dict[str, dict[str, int]] = {
    "reference": {},
    "reference_in_text": {},
    "payer_account": {"days": 3},
    "amount_date": {"days": 3, "name_similarity_min": 0},
    "one_to_many": {"days": 3, "size_max": 4, "candidates_max": 12},
    "many_to_one": {"days": 3, "size_max": 4, "candidates_max": 12},
    "amount_tolerance": {"days": 3, "tolerance_minor": 0},
}
_parameter_max = {"days": days_max, "size_max": size_max_limit, "candidates_max": candidates_max_limit,
                  "tolerance_minor": 10**9, "name_similarity_min": 100}


def check_rules(rules: Sequence[Mapping[str, object]], *, strict: bool = False) -> tuple[Mapping[str, object], ...]:
    """The rules as data, validated: a kind each, small non-negative integer parameters.

    `strict` (when a list is saved) also refuses a parameter the rule's kind does not take, which
    would otherwise be ignored; a list saved before is read back without it."""
    if not 0 < len(rules) <= rules_max:
        raise InvalidRules(f"give 1 to {rules_max} rules")
    for number, rule in enumerate(rules, 1):
        kind = rule.get("kind")
        if kind not in rule_kinds:
            raise InvalidRules(f"rule {number}: kind must be one of {', '.join(rule_kinds)}", rule=number, field="kind")
        if strict:
            stray = sorted(set(rule) - {"kind", *rule_parameters[str(kind)]})
            if stray:
                taken = ", ".join(rule_parameters[str(kind)]) or "no parameters"
                raise InvalidRules(f"rule {number}: {kind} takes {taken}, not {stray[0]}", rule=number, field=stray[0])
        for name, top in _parameter_max.items():
            value = rule.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise InvalidRules(f"rule {number}: {name} must be an integer from 0 to {top}", rule=number, field=name)
    return tuple(dict(rule) for rule in rules)


def with_defaults(rule: Mapping[str, object]) -> dict[str, object]:
    """The rule with every parameter its kind takes, the ones it leaves out at the value it runs with."""
    return {"kind": rule["kind"], **rule_parameters[str(rule["kind"])],
            **{name: value for name, value in rule.items() if name in rule_parameters[str(rule["kind"])]}}


def reconcile(lines: Sequence[Line], candidates: Sequence[Candidate], rules: Sequence[Mapping[str, object]] = default_rules
              ) -> list[Decision]:
    state = _State(lines, candidates)
    for rule in rules:
        _runners[str(rule["kind"])](state, rule)
    return state.decisions


class _State:
    def __init__(self, lines: Sequence[Line], candidates: Sequence[Candidate]) -> None:
        self.lines = {line.id: line for line in lines}
        self.candidates = {c.key: c for c in candidates}
        self.decisions: list[Decision] = []
        self._by_reference: dict[str, list[PostingKey]] | None = None

    def decide(self, line_ids: Iterable[object], keys: Iterable[PostingKey], rule: str, score: Decimal | str, matched: bool) -> None:
        line_ids, keys = tuple(line_ids), tuple(keys)
        for line_id in line_ids:
            del self.lines[line_id]
        for key in keys:
            del self.candidates[key]
        shown = score if isinstance(score, str) else str(score.quantize(score_step, ROUND_HALF_EVEN))
        self.decisions.append(Decision(line_ids, keys, rule, shown, matched))

    def by_reference(self) -> dict[str, list[PostingKey]]:
        if self._by_reference is None:
            index: dict[str, list[PostingKey]] = defaultdict(list)
            for candidate in self.candidates.values():
                for reference in candidate.references:
                    index[reference.casefold()].append(candidate.key)
            self._by_reference = index
        return self._by_reference

    def open_keys(self, keys: Iterable[PostingKey]) -> list[PostingKey]:
        return [key for key in dict.fromkeys(keys) if key in self.candidates]


def _by_reference(state: _State, rule: Mapping[str, object], *, in_text: bool = False) -> None:
    index, candidates = state.by_reference(), state.candidates
    name, score = ("reference_in_text", "0.95") if in_text else ("reference", "1.00")
    for line in sorted(state.lines.values(), key=_booking_date):
        words = _token.findall(line.remittance or "") if in_text else line.references
        for word in words:
            keys = index.get(word.casefold())
            if not keys:
                continue
            if len(keys) == 1:  # the common case, without building a list
                found = candidates.get(keys[0])
                if found is not None and found.amount_minor == line.amount_minor:
                    state.decide((line.id,), keys, name, score, True)
                    break
                continue
            keys = state.open_keys(keys)
            if keys and sum(candidates[key].amount_minor for key in keys) == line.amount_minor:
                state.decide((line.id,), keys, name, score, True)
                break


def _payer_account(state: _State, rule: Mapping[str, object]) -> None:
    days = int(rule.get("days", 3))
    index = state.by_reference()
    for line in sorted(state.lines.values(), key=lambda line: line.booking_date):
        if not line.payer_loans:
            continue
        found = [state.candidates[key] for key in state.open_keys(k for loan in line.payer_loans for k in index.get(loan.casefold(), ()))]
        found = [c for c in found if c.amount_minor == line.amount_minor and abs((c.effective_date - line.booking_date).days) <= days]
        if len(found) == 1:
            state.decide([line.id], [found[0].key], "payer_account", "0.90", True)
        elif found:
            closest = min(found, key=lambda c: (abs((c.effective_date - line.booking_date).days), str(c.key)))
            state.decide([line.id], [closest.key], "payer_account", Decimal("0.5") / len(found), False)


def _amount_date(state: _State, rule: Mapping[str, object]) -> None:
    days = dt.timedelta(days=int(rule.get("days", 3)))
    name_min = int(rule.get("name_similarity_min", 0))
    lines_by_amount, candidates_by_amount = _blocks(state)
    for amount, lines in lines_by_amount.items():
        block = candidates_by_amount.get(amount)
        if not block:
            continue
        dates = [c.effective_date for c in block]
        options = {line.id: _within(block, dates, line.booking_date, days) for line in lines}
        wanted_by: dict[PostingKey, int] = defaultdict(int)
        for found in options.values():
            for candidate in found:
                wanted_by[candidate.key] += 1
        for line in lines:
            found = [c for c in options[line.id] if c.key in state.candidates]
            if not found:
                continue
            if len(found) == 1 and wanted_by[found[0].key] == 1:
                state.decide([line.id], [found[0].key], "amount_date", "0.90", True)
                continue
            chosen = _by_name(line, found, name_min) if name_min and line.counterparty_name else None
            if chosen is not None:
                state.decide([line.id], [chosen.key], "amount_date", "0.80", True)
                continue
            closest = min(found, key=lambda c: (abs((c.effective_date - line.booking_date).days), str(c.key)))
            state.decide([line.id], [closest.key], "amount_date", Decimal("0.5") / len(found), False)


def _by_name(line: Line, found: Sequence[Candidate], name_min: int) -> Candidate | None:
    scored = [(fuzz.token_set_ratio(line.counterparty_name, c.name or "", processor=utils.default_process), c) for c in found]
    above = [c for score, c in scored if score >= name_min]
    return above[0] if len(above) == 1 else None


def _one_to_many(state: _State, rule: Mapping[str, object]) -> None:
    days = dt.timedelta(days=int(rule.get("days", 3)))
    size_max, width = int(rule.get("size_max", 4)), int(rule.get("candidates_max", 12))
    ordered = sorted(state.candidates.values(), key=lambda c: c.effective_date)
    dates = [c.effective_date for c in ordered]
    for line in sorted(state.lines.values(), key=lambda line: line.booking_date):
        near = [c for c in _within(ordered, dates, line.booking_date, days)
                if c.key in state.candidates and (c.amount_minor > 0) == (line.amount_minor > 0)]
        combos = _combinations(near, line.amount_minor, size_max, width, lambda c: c.amount_minor)
        if combos:
            state.decide([line.id], [c.key for c in combos[0]], "one_to_many", "0.85" if len(combos) == 1 else "0.40", len(combos) == 1)


def _many_to_one(state: _State, rule: Mapping[str, object]) -> None:
    days = dt.timedelta(days=int(rule.get("days", 3)))
    size_max, width = int(rule.get("size_max", 4)), int(rule.get("candidates_max", 12))
    ordered = sorted(state.lines.values(), key=lambda line: line.booking_date)
    dates = [line.booking_date for line in ordered]
    for candidate in sorted(state.candidates.values(), key=lambda c: c.effective_date):
        if candidate.key not in state.candidates:
            continue
        near = [line for line in _within(ordered, dates, candidate.effective_date, days)
                if line.id in state.lines and (line.amount_minor > 0) == (candidate.amount_minor > 0)]
        combos = _combinations(near, candidate.amount_minor, size_max, width, lambda line: line.amount_minor)
        if combos:
            state.decide([line.id for line in combos[0]], [candidate.key], "many_to_one", "0.85" if len(combos) == 1 else "0.40",
                         len(combos) == 1)


def _amount_tolerance(state: _State, rule: Mapping[str, object]) -> None:
    days = dt.timedelta(days=int(rule.get("days", 3)))
    tolerance = int(rule.get("tolerance_minor", 0))
    ordered = sorted(state.candidates.values(), key=lambda c: c.effective_date)
    dates = [c.effective_date for c in ordered]
    for line in sorted(state.lines.values(), key=lambda line: line.booking_date):
        near = [c for c in _within(ordered, dates, line.booking_date, days) if c.key in state.candidates
                and (c.amount_minor > 0) == (line.amount_minor > 0) and 0 < abs(c.amount_minor - line.amount_minor) <= tolerance]
        if near:
            best = min(near, key=lambda c: (abs(c.amount_minor - line.amount_minor), abs((c.effective_date - line.booking_date).days)))
            state.decide([line.id], [best.key], "amount_tolerance", "0.30", False)


def _combinations(items: Sequence, total: int, size_max: int, width: int, amount) -> list[tuple]:
    """Combinations of 2..size_max items summing to total; stops at two (enough to know it is ambiguous).

    Pairs are found by hashing over every item in the window (linear in the window); larger
    combinations only among the `width` items nearest in amount to an even share, so the search
    stays bounded whatever the window holds.
    """
    found: list[tuple] = []
    seen: dict[int, list] = defaultdict(list)
    for item in items:
        for other in seen.get(total - amount(item), ()):
            found.append((other, item))
            if len(found) == 2:
                return found
        seen[amount(item)].append(item)
    if size_max < 3:
        return found
    # Every part of a larger set is smaller than the total (all share its sign): the rest cannot take part.
    smaller = [item for item in items if abs(amount(item)) < abs(total)]
    for size in range(3, size_max + 1):
        share = total / size
        nearest = heapq.nsmallest(width, smaller, key=lambda item: abs(amount(item) - share))
        amounts = [amount(item) for item in nearest]
        # The amounts' combinations come in the same order as the items': sum() over a tuple of ints
        # runs in C, where a generator over the items would call `amount` for every member.
        for combo, parts in zip(itertools.combinations(nearest, size), itertools.combinations(amounts, size)):
            if sum(parts) == total:
                found.append(combo)
                if len(found) == 2:
                    return found
    return found


def _blocks(state: _State) -> tuple[dict[int, list[Line]], dict[int, list[Candidate]]]:
    lines: dict[int, list[Line]] = defaultdict(list)
    for line in sorted(state.lines.values(), key=lambda line: line.booking_date):
        lines[line.amount_minor].append(line)
    candidates: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in sorted(state.candidates.values(), key=lambda c: c.effective_date):
        candidates[candidate.amount_minor].append(candidate)
    return lines, candidates


_booking_date = operator.attrgetter("booking_date")


def _within(ordered: Sequence, dates: Sequence[dt.date], day: dt.date, window: dt.timedelta) -> list:
    return list(ordered[bisect.bisect_left(dates, day - window):bisect.bisect_right(dates, day + window)])


_runners = {
    "reference": _by_reference,
    "reference_in_text": lambda state, rule: _by_reference(state, rule, in_text=True),
    "payer_account": _payer_account,
    "amount_date": _amount_date,
    "one_to_many": _one_to_many,
    "many_to_one": _many_to_one,
    "amount_tolerance": _amount_tolerance,
}
