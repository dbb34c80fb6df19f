import datetime as dt

from ledger import queries, service
from ledger.model import EntryDraft, credit, debit
from ledger.store.transaction import run_in_transaction


def test_post_and_balance(engine, actor):
    draft = EntryDraft(dt.date(2026, 1, 5), (debit("1100", "100.00", "CNY"), credit("3100", "100.00", "CNY")), "capital")
    entry = run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
    with engine.connect() as conn:
        assert queries.current_balances(conn, actor.tenant_id, "1100")[0].net_minor == 10000
        assert queries.get_entry(conn, actor.tenant_id, entry.id).postings == draft.postings
