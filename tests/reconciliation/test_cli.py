"""`loanbook import-statement` and `loanbook reconciliation-report`: a summary, or `error: CODE: message` and exit 1."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.unit_of_work import run_in_transaction
from loanbook.cli import main as cli_main
from tests.conftest import actor_for
from tests.reconciliation import samples
from tests.reconciliation.samples import Item

D = dt.date(2026, 3, 2)


@pytest.fixture
def slug(engine, monkeypatch) -> str:
    monkeypatch.setenv("LOANBOOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    slug = f"cli-{uuid.uuid4().hex[:10]}"
    now = dt.datetime.now(dt.timezone.utc)
    tenant_id = run_in_transaction(engine, lambda conn: service.create_tenant(conn, slug, "CLI", actor_name="t", now=now))
    draft = EntryDraft(D, (debit("1100", "250.00", "CNY"), credit("3100", "250.00", "CNY")), "capital")
    run_in_transaction(engine, lambda conn: service.post_entry(conn, actor_for(tenant_id), draft))
    return slug


def test_import_reconcile_and_report_as_csv(engine, slug, tmp_path, capsys) -> None:
    mapping = tmp_path / "icbc.json"
    mapping.write_text(json.dumps(samples.gbk_mapping, ensure_ascii=False), encoding="utf-8")
    assert cli_main(["statement-mapping", "icbc", str(mapping), "--tenant", slug]) == 0
    export = tmp_path / "march.csv"
    export.write_bytes(samples.gbk_csv([Item(D + dt.timedelta(days=1), Decimal("250.00"), "ICBC-9", name="某公司")]))
    base = ["--tenant", slug, "--bank-account", "1100"]
    assert cli_main(["import-statement", str(export), *base, "--format", "csv", "--mapping", "icbc"]) == 0
    assert "1 lines added" in capsys.readouterr().out
    assert cli_main(["import-statement", str(export), *base, "--format", "csv", "--mapping", "icbc"]) == 0
    assert "nothing added" in capsys.readouterr().out
    assert cli_main(["auto-reconcile", *base, "--through", "2026-03-31"]) == 0
    assert "matched 1" in capsys.readouterr().out
    assert cli_main(["reconciliation-report", *base, "--as-of", "2026-03-31", "--csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "figure,amount,currency"
    assert "statementBalance,250.00,CNY" in rows and "ledgerBalance,250.00,CNY" in rows and "difference,0.00,CNY" in rows


def test_a_hostile_file_prints_the_code_and_exits_1(engine, slug, tmp_path, capsys) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><Document/>')
    assert cli_main(["import-statement", str(bomb), "--tenant", slug, "--bank-account", "1100"]) == 1
    assert capsys.readouterr().err.startswith("error: STATEMENT_REFUSED: ")


def test_rules_saved_as_data_change_what_matches(engine, slug, tmp_path, capsys) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"kind": "reference"}]))
    assert cli_main(["reconciliation-rules", str(rules), "--tenant", slug]) == 0
    export = tmp_path / "march.xml"
    export.write_bytes(samples.camt053([Item(D, Decimal("250.00"), "NOREF")]))
    base = ["--tenant", slug, "--bank-account", "1100"]
    assert cli_main(["import-statement", str(export), *base]) == 0
    assert cli_main(["auto-reconcile", *base, "--through", "2026-03-31"]) == 0
    assert "matched 0" in capsys.readouterr().out  # only references match now; amount and date would have
    rules.write_text(json.dumps([{"kind": "amount_date", "days": 400}]))
    assert cli_main(["reconciliation-rules", str(rules), "--tenant", slug]) == 1
    assert "error: INVALID_RECONCILIATION_RULES: " in capsys.readouterr().err


def test_an_ofx_download_imports_and_matches(engine, slug, tmp_path, capsys) -> None:
    export = tmp_path / "march.ofx"
    export.write_bytes(samples.ofx([Item(D, Decimal("250.00"), "FIT-77", name="Capital Partner")], currency="CNY"))
    base = ["--tenant", slug, "--bank-account", "1100"]
    assert cli_main(["import-statement", str(export), *base, "--format", "ofx"]) == 0
    assert "1 lines added" in capsys.readouterr().out
    assert cli_main(["auto-reconcile", *base, "--through", "2026-03-31"]) == 0
    assert "matched 1" in capsys.readouterr().out
    bomb = tmp_path / "bomb.ofx"
    bomb.write_bytes(b'<?xml version="1.0"?><!DOCTYPE OFX [<!ENTITY x SYSTEM "file:///etc/passwd">]><OFX>&x;</OFX>')
    assert cli_main(["import-statement", str(bomb), *base]) == 1
    assert capsys.readouterr().err.startswith("error: STATEMENT_REFUSED: ")
