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


@pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
def test_migration_0007_spreads_existing_loan_accounts_over_slots_and_keeps_their_balances(fresh_engine):
    from alembic import command

    from ledger import queries
    from ledger.verify import verify_books
    from loanbook.migrate import alembic_config, upgrade

    engine = fresh_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)

    def lend(amount: str) -> None:
        draft = EntryDraft(actor.now.date(), (debit("1200", amount, "CNY"), credit("1100", amount, "CNY")), "loan", {})
        for _ in range(5):
            run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, draft))

    def slots() -> dict[str, int]:
        with engine.connect() as conn:
            return {a.code: a.balance_slots for a in queries.list_accounts(conn, tenant_id)}

    lend("10.00")
    config = alembic_config()
    with engine.connect() as conn:  # back to 0006: the tenant's loan accounts have one slot, as they had then
        config.attributes["connection"] = conn
        command.downgrade(config, "0006_receipt_reapplication")
        conn.commit()
    assert slots()["1200"] == slots()["4100"] == 1 and slots()["1100"] == 8
    # (Today's code cannot post to a 0006 database: its queue lacks 0009's column.)
    upgrade(engine)
    after = slots()
    assert all(after[code] == 8 for code in ("1200", "1210", "1220", "1230", "1290", "2100", "4100", "4200", "5100"))
    assert after["1000"] == after["3100"] == 1  # headers and equity stay as they were
    lend("0.10")
    with engine.connect() as conn:
        (balance,) = queries.current_balances(conn, tenant_id, "1200")
        used = conn.execute(
            sa.text("SELECT slot FROM account_balances WHERE tenant_id = :t AND account_code = '1200'"), {"t": tenant_id}
        ).scalars().all()
        report = verify_books(conn, [tenant_id])
    assert balance.debit_minor - balance.credit_minor == 5 * (1000 + 10)
    assert used and all(0 <= slot < 8 for slot in used)
    assert report.clean, report.discrepancies
