"""Engine behaviour: on SQLite, a reading connection must not hold the write lock."""
import threading

import pytest
import sqlalchemy as sa

from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.store.transaction import read_connection, run_in_transaction
from tests.conftest import actor_for, new_tenant


@pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
def test_a_reader_with_an_open_transaction_does_not_block_a_writer(fresh_engine):
    import datetime as dt

    tenant_id = new_tenant(fresh_engine)
    actor = actor_for(tenant_id)
    draft = EntryDraft(dt.date(2026, 1, 5), (debit("1100", "10", "CNY"), credit("3100", "10", "CNY")))
    with read_connection(fresh_engine) as reader:
        before = reader.execute(sa.text("SELECT count(*) FROM journal_entries")).scalar()  # transaction open
        writer = threading.Thread(target=lambda: run_in_transaction(fresh_engine, lambda c: service.post_entry(c, actor, draft)))
        writer.start()
        writer.join(timeout=10)
        assert not writer.is_alive(), "the writer waited for the reader's transaction"
        if fresh_engine.dialect.name == "sqlite":  # PostgreSQL reads committed rows statement by statement
            # The reader keeps its snapshot until its transaction ends.
            assert reader.execute(sa.text("SELECT count(*) FROM journal_entries")).scalar() == before
    with read_connection(fresh_engine) as reader:
        assert reader.execute(sa.text("SELECT count(*) FROM journal_entries")).scalar() == before + 1
