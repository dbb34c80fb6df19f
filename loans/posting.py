"""Turn role movements into one balanced journal entry draft through a product's GL mapping. Pure."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from ledger.model import EntryDraft, Posting
from loans.servicing import Movement


def net_by_account(movements: Iterable[Movement], gl_accounts: Mapping[str, str]) -> dict[str, int]:
    net: dict[str, int] = {}
    for debit_role, credit_role, amount in movements:
        assert amount > 0, (debit_role, credit_role, amount)
        d, c = gl_accounts[debit_role], gl_accounts[credit_role]
        net[d] = net.get(d, 0) + amount
        net[c] = net.get(c, 0) - amount
    return {code: amount for code, amount in net.items() if amount}


def entry_for(
    net: Mapping[str, int],
    currency: str,
    day: dt.date,
    description: str,
    metadata: Mapping[str, object],
    idempotency_key: str | None = None,
) -> EntryDraft | None:
    """Debits first, then credits, each by account code; None when everything nets to zero."""
    if not net:
        return None
    assert sum(net.values()) == 0, net
    ordered = sorted(net.items(), key=lambda item: (item[1] < 0, item[0]))
    postings = tuple(Posting(code, currency, amount) for code, amount in ordered)
    return EntryDraft(day, postings, description[:500], dict(metadata), idempotency_key)
