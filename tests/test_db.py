"""Engine behaviour: on SQLite, a reading connection must not hold the write lock."""
import threading
import uuid

import pytest
import sqlalchemy as sa

from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.store import tables
from ledger.unit_of_work import read_connection, run_in_transaction
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

    def slots() -> dict[str, int]:  # the columns 0006 has (later migrations add others)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT code, balance_slots FROM accounts WHERE tenant_id = :t"), {"t": tenant_id})
            return {code: slots for code, slots in rows}

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


@pytest.mark.parametrize("fresh_engine", ["sqlite", "postgresql"], indirect=True)
def test_migration_0010_makes_the_entry_keys_partial_and_keeps_what_they_refuse(fresh_engine):
    from alembic import command

    from ledger import errors
    from ledger.verify import verify_books
    from loanbook.migrate import alembic_config, upgrade

    engine = fresh_engine
    tenant_id = new_tenant(engine)
    actor = actor_for(tenant_id)
    keyed = EntryDraft(actor.now.date(), (debit("1100", "7.00", "CNY"), credit("3100", "7.00", "CNY")), "capital", {}, "key-1")
    first = run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, keyed))
    config = alembic_config()

    def migrate(step, revision: str) -> None:  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            step(config, revision)
            conn.commit()

    def partial_keys() -> int:
        """How many of the two keys are partial unique indexes (both exist either way)."""
        sql = (
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'journal_entries'" if engine.dialect.name == "sqlite"
            else "SELECT indexdef FROM pg_indexes WHERE tablename = 'journal_entries'"
        )
        with engine.connect() as conn:
            schema = [d for d in conn.execute(sa.text(sql)).scalars() if d]
        names = ("uq_journal_entries_tenant_id_idempotency_key", "uq_journal_entries_tenant_id_reverses_entry_id")
        assert all(any(name in d for d in schema) for name in names)
        return sum(1 for d in schema for name in names if name in d and d.startswith("CREATE UNIQUE INDEX") and "IS NOT NULL" in d)

    migrate(command.downgrade, "0009_deferred_period_balances")
    assert partial_keys() == 0
    migrate(command.upgrade, "head")
    assert partial_keys() == 2
    # The replay, the conflict, the one reversal and the immutability triggers are as they were.
    assert run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, keyed)).id == first.id
    changed = EntryDraft(keyed.effective_date, (debit("1100", "8.00", "CNY"), credit("3100", "8.00", "CNY")), "capital", {}, "key-1")
    with pytest.raises(errors.IdempotencyConflict):
        run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, changed))
    run_in_transaction(engine, lambda conn: service.reverse_entry(conn, actor, first.id, keyed.effective_date))
    with pytest.raises(errors.AlreadyReversed):
        run_in_transaction(engine, lambda conn: service.reverse_entry(conn, actor, first.id, keyed.effective_date))
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="immutable"):
        conn.execute(sa.text("UPDATE journal_entries SET description = 'x' WHERE tenant_id = :t"), {"t": tenant_id})
    with engine.begin() as conn:  # the index itself refuses a second use of the key, below the service's checks
        entries = tables.journal_entries
        row = conn.execute(sa.select(entries).where(entries.c.tenant_id == tenant_id, entries.c.idempotency_key == "key-1")).mappings().one()
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin_nested():
                conn.execute(sa.insert(entries).values({**row, "id": uuid.uuid4()}))
    migrate(command.downgrade, "0009_deferred_period_balances")
    assert partial_keys() == 0
    upgrade(engine)
    with engine.connect() as conn:
        report = verify_books(conn, [tenant_id])
        if engine.dialect.name == "sqlite":  # the migrations turned them off for the rebuild, and back on
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert report.clean, report.discrepancies


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_the_balance_counter_tables_leave_room_for_updates_on_their_page(fresh_engine):
    with fresh_engine.connect() as conn:
        options = dict(conn.execute(sa.text(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN ('account_balances', 'account_period_balances')"
        )).all())
    assert options == {"account_balances": ["fillfactor=50"], "account_period_balances": ["fillfactor=50"]}


@pytest.mark.parametrize("fresh_engine", ["postgresql"], indirect=True)
def test_bank_lines_change_status_on_their_own_page(fresh_engine):
    """Half of each page is free and no index holds the status: marking a line matched is a HOT update."""
    with fresh_engine.connect() as conn:
        options = conn.execute(sa.text("SELECT reloptions FROM pg_class WHERE relname = 'bank_statement_lines'")).scalar()
        indexed = conn.execute(sa.text(
            "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'bank_statement_lines'::regclass AND a.attname = 'status'")).scalar()
    assert options == ["fillfactor=50"]
    assert indexed == 0
