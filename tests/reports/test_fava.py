"""`loanbook fava` serves the tenant's export with Fava on loopback, briefly (skipped without Fava).

Fava (the `loanbook[fava]` extra) runs as its own program on a temporary export; the test asks it
for its pages over 127.0.0.1, then stops `loanbook fava` with SIGTERM, which stops Fava too.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ledger import service
from ledger.model import EntryDraft, credit, debit
from ledger.reporting import tenant_slug
from ledger.unit_of_work import run_in_transaction
from loanbook.cli_reports import fava_program
from tests.conftest import actor_for, new_tenant

start_seconds_max = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fava_books(sqlite_url):
    from loanbook.db import make_engine

    engine = make_engine(sqlite_url)
    tenant_id = new_tenant(engine, "fava")
    actor = actor_for(tenant_id, "clerk")
    draft = EntryDraft(dt.date(2026, 3, 2), (debit("1100", "10000.00", "CNY"), credit("3100", "10000.00", "CNY")), "capital")
    run_in_transaction(engine, lambda c: service.post_entry(c, actor, draft))
    with engine.connect() as conn:
        slug = tenant_slug(conn, tenant_id)
    engine.dispose()
    return sqlite_url, slug


def test_loanbook_fava_serves_the_books_on_loopback_and_stops_with_it(fava_books):
    if fava_program() is None:
        pytest.skip("Fava is not installed (pip install 'loanbook[fava]')")
    url, slug = fava_books
    port = free_port()
    env = {**os.environ, "LOANBOOK_DATABASE_URL": url}
    loanbook = str(Path(sys.executable).with_name("loanbook"))
    process = subprocess.Popen([loanbook, "fava", "--tenant", slug, "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page = None
        deadline = time.monotonic() + start_seconds_max
        while time.monotonic() < deadline and process.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert page is not None, process.communicate(timeout=10) if process.poll() is not None else "Fava did not answer"
        assert page.status_code == 200 and f"loanbook: {slug}" in page.text
        book = str(page.url).split("/")[3]
        sheet = httpx.get(f"http://127.0.0.1:{port}/{book}/balance_sheet/", timeout=10)
        assert sheet.status_code == 200 and "Assets:BankAndCash:1100" in sheet.text
        errors = httpx.get(f"http://127.0.0.1:{port}/{book}/api/errors", timeout=10)
        assert errors.status_code == 200 and errors.json()["data"] == []  # bean-check's checks hold in Fava too
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
