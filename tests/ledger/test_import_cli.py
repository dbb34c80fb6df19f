"""`loanbook import FILE`: JSON Lines in, checked whole before anything is written, batches after."""
from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from ledger import queries
from ledger.store import tables
from loanbook.cli import main as cli_main
from tests.conftest import new_tenant


def line(n: int, amount: str = "10.00", **extra: object) -> str:
    entry = {
        "date": "2026-01-05", "description": f"legacy row {n}", "metadata": {"row": n},
        "postings": [{"account": "1200", "currency": "CNY", "debit": amount}, {"account": "1100", "currency": "CNY", "credit": amount}],
        **extra,
    }
    return json.dumps(entry, ensure_ascii=False)


@pytest.fixture
def cli(engine, monkeypatch):
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    tenant_id = new_tenant(engine)
    with engine.connect() as conn:
        slug = conn.execute(sa.select(tables.tenants.c.slug).where(tables.tenants.c.id == tenant_id)).scalar()
    return tenant_id, slug


def entries_of(engine, tenant_id: int) -> int:
    with engine.connect() as conn:
        t = tables.journal_entries
        return conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id)).scalar()


def test_import_posts_every_line_in_batches_and_a_rerun_skips_what_is_in(engine, cli, tmp_path, capsys):
    tenant_id, slug = cli
    run = uuid.uuid4().hex
    path = tmp_path / "legacy.jsonl"
    path.write_text("\n".join(line(n, idempotency_key=f"{run}-{n}") for n in range(1, 8)) + "\n\n", encoding="utf-8")
    before = entries_of(engine, tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug, "--batch-size", "3"]) == 0
    assert "imported 7 entries (14 postings) from 7 lines" in capsys.readouterr().out
    assert entries_of(engine, tenant_id) == before + 7
    with engine.connect() as conn:
        assert sum(b.net_minor for b in queries.current_balances(conn, tenant_id, "1200")) == 7 * 1000
        batches = conn.execute(
            sa.select(tables.audit_events.c.after).where(
                tables.audit_events.c.tenant_id == tenant_id, tables.audit_events.c.action == "journal_entries.imported"
            )
        ).scalars().all()
    assert sorted(json.loads(a)["reference"] for a in batches) == ["legacy.jsonl:1-3", "legacy.jsonl:4-6", "legacy.jsonl:7-7"]
    assert cli_main(["import", str(path), "--tenant", slug]) == 0
    assert "imported 0 entries (0 postings) from 7 lines; 7 already imported" in capsys.readouterr().out
    assert entries_of(engine, tenant_id) == before + 7


@pytest.mark.parametrize(
    "bad, code",
    [
        ('{"date": "2026-01-05", "postings": [{"account": "1200", "currency": "CNY", "debit": 10.5}, '
         '{"account": "1100", "currency": "CNY", "credit": "10.50"}]}', "FLOAT_AMOUNT_REFUSED"),
        (line(3, "10.001"), "AMOUNT_TOO_PRECISE"),
        ('{"date": "2026-01-05", "postings": [{"account": "1200", "currency": "CNY", "debit": "5.00"}, '
         '{"account": "1100", "currency": "CNY", "credit": "4.00"}]}', "UNBALANCED_ENTRY"),
        ('{"date": "05/01/2026", "postings": []}', "INVALID_ENTRY"),
        ("{not json", "INVALID_ENTRY"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_written(engine, cli, tmp_path, capsys, bad, code):
    tenant_id, slug = cli
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([line(1), line(2), bad, line(4)]), encoding="utf-8")
    before = entries_of(engine, tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug]) == 1
    err = capsys.readouterr().err
    assert f"error: {code}: line 3:" in err
    assert entries_of(engine, tenant_id) == before


def test_every_bad_line_is_reported_at_once_and_nothing_is_written(engine, cli, tmp_path, capsys):
    """Mistakes of every kind, the chart's included, come back together, each naming its line."""
    tenant_id, slug = cli
    path = tmp_path / "many.jsonl"
    unknown = line(3).replace('"1200"', '"9999"')
    wrong_currency = line(6).replace('"CNY"', '"USD"', 1)
    lines = [line(1), line(2, "10.001"), unknown, line(4), "{not json", wrong_currency, line(7)]
    path.write_text("\n".join(lines), encoding="utf-8")
    before = entries_of(engine, tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug, "--batch-size", "2"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [e.split(":")[1].strip() for e in err[:-1]] == ["AMOUNT_TOO_PRECISE", "UNKNOWN_ACCOUNT", "INVALID_ENTRY", "UNBALANCED_ENTRY"]
    assert [e.split(":")[2].strip() for e in err[:-1]] == ["line 2", "line 3", "line 5", "line 6"]
    assert err[-1] == "4 bad line(s); nothing was written"
    assert entries_of(engine, tenant_id) == before
    assert cli_main(["import", str(path), "--tenant", slug, "--batch-size", "0"]) == 2


def test_reading_stops_at_the_error_limit(monkeypatch, engine, cli, tmp_path, capsys):
    from ledger import importing

    tenant_id, slug = cli
    path = tmp_path / "all-bad.jsonl"
    path.write_text("\n".join("{not json" for _ in range(importing.line_errors_max + 50)), encoding="utf-8")
    assert cli_main(["import", str(path), "--tenant", slug]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == importing.line_errors_max + 1
    assert err[-1] == f"{importing.line_errors_max} bad line(s) (stopped there: fix these and run it again); nothing was written"


def test_a_closed_account_is_named_before_anything_is_written(engine, cli, tmp_path, capsys):
    from ledger import service
    from ledger.unit_of_work import run_in_transaction
    from tests.conftest import actor_for

    tenant_id, slug = cli
    actor = actor_for(tenant_id)
    run_in_transaction(engine, lambda c: service.open_account(c, actor, "1160", "Old bank", "ASSET", parent_code="1000"))
    run_in_transaction(engine, lambda c: service.close_account(c, actor, "1160"))
    path = tmp_path / "closed.jsonl"
    path.write_text("\n".join([line(1), line(2).replace('"1100"', '"1160"')]), encoding="utf-8")
    before = entries_of(engine, tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug]) == 1
    assert "error: ACCOUNT_CLOSED: line 2: account 1160" in capsys.readouterr().err
    assert entries_of(engine, tenant_id) == before


def _nul_description(n: int) -> str:
    return line(n).replace(f"legacy row {n}", "legacy\\u0000row")


@pytest.mark.parametrize(
    "bad, code, says",
    [
        (_nul_description(3), "INVALID_ENTRY", "description holds a NUL character (U+0000)"),
        (line(3).replace('"row": 3', '"note": "a\\u0000b"'), "INVALID_ENTRY", "metadata 'note' holds a NUL character (U+0000)"),
        (line(3).replace('"row": 3', '"\\udc00": 1'), "INVALID_ENTRY", "a metadata key holds a lone UTF-16 surrogate"),
        (line(3).replace("legacy row 3", "lone \\ud800 half"), "INVALID_ENTRY", "description holds a lone UTF-16 surrogate"),
        (line(3).replace('"1200"', '"12\\u000000"'), "INVALID_ENTRY", "account holds a NUL character (U+0000)"),
    ],
)
def test_a_character_no_column_stores_is_a_bad_line(engine, cli, tmp_path, capsys, bad, code, says):
    """Refused with the line's number before the database sees it: no traceback, no SQL text."""
    tenant_id, slug = cli
    path = tmp_path / "nul.jsonl"
    path.write_text("\n".join([line(1), line(2), bad, line(4)]), encoding="utf-8")
    before = entries_of(engine, tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {code}: line 3: {says}, which cannot be stored", "1 bad line(s); nothing was written"]
    assert "Traceback" not in err and "INSERT" not in err and "SELECT" not in err
    assert entries_of(engine, tenant_id) == before


def test_text_that_is_not_utf8_is_named_by_line_with_the_others(engine, cli, tmp_path, capsys):
    tenant_id, slug = cli
    path = tmp_path / "latin1.jsonl"
    latin1 = line(2).replace("legacy row 2", "caf\u00e9").encode("latin-1")
    path.write_bytes(b"\n".join([line(1).encode(), latin1, line(3, "10.001").encode(), line(4).encode()]))
    before = entries_of(engine, tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: INVALID_ENTRY: line 2: not UTF-8 text (invalid continuation byte at byte ")
    assert err[1].startswith("error: AMOUNT_TOO_PRECISE: line 3:")
    assert err[2] == "2 bad line(s); nothing was written"
    assert entries_of(engine, tenant_id) == before


def test_a_key_repeated_in_the_file_names_the_key_and_both_lines(engine, cli, tmp_path, capsys):
    """Within one batch or across two: the second use of a key is refused before anything is written."""
    tenant_id, slug = cli
    key = f"dup-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join([
        line(1, idempotency_key=key), line(2), line(3, "20.00", idempotency_key=key), line(4), line(5, idempotency_key=key),
    ]), encoding="utf-8")
    before = entries_of(engine, tenant_id)
    assert cli_main(["import", str(path), "--tenant", slug, "--batch-size", "2"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"error: IDEMPOTENCY_CONFLICT: line 3: idempotency key {key!r} is already used on line 1; each entry needs its own",
        f"error: IDEMPOTENCY_CONFLICT: line 5: idempotency key {key!r} is already used on line 1; each entry needs its own",
        "2 bad line(s); nothing was written",
    ]
    assert entries_of(engine, tenant_id) == before
