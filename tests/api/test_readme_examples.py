"""Every shell and GraphQL example in README.md, run as written against a live `loanbook serve`.

The shell blocks run in order in one bash session (`set -euo pipefail`), so the walkthrough's
variables carry from block to block, with the CLI pointed at the server's database and the
README's http://127.0.0.1:8000 at the test server. The one block not run is "Two commands"
(`make serve` is what started the server; `make test` is what runs this). Then every GraphQL
block is sent with the walkthrough's admin token and must answer without an error.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

root = Path(__file__).resolve().parents[2]
readme_url = "http://127.0.0.1:8000"
fence = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
two_commands = ("make serve", "make test")


def blocks(language: str) -> list[str]:
    text = (root / "README.md").read_text(encoding="utf-8")
    return [body for lang, body in fence.findall(text) if lang == language]


def test_the_readme_has_a_walkthrough_and_graphql_examples():
    shell = blocks("sh")
    assert [line.split("#")[0].strip() for line in shell[0].splitlines()] == list(two_commands)
    assert len(shell) >= 8 and len(blocks("graphql")) >= 4
    assert not [lang for lang, _ in fence.findall((root / "README.md").read_text()) if lang not in ("sh", "graphql", "")]


@pytest.fixture(scope="module")
def walkthrough(sqlite_api_server, tmp_path_factory):
    server = sqlite_api_server
    script = "set -euo pipefail\n" + "\n".join(blocks("sh")[1:]).replace(readme_url, server.base_url)
    script += '\necho "README_ADMIN_TOKEN=$ADMIN"\n'
    env = {
        **os.environ, "LOANBOOK_DATABASE_URL": server.engine.url.render_as_string(hide_password=False),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "TMPDIR": str(tmp_path_factory.mktemp("readme")),
    }
    done = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"README shell examples failed:\n{done.stdout}\n{done.stderr}"
    return server, done.stdout


def test_the_walkthrough_runs_as_written_to_a_repaid_loan_and_balanced_books(walkthrough):
    _, out = walkthrough
    assert '"errors"' not in out and not re.search(r'"__typename":"\w+Error"', out), out
    assert '"status":"ACTIVE"' in out and '"decidedBy":"pavel"' in out
    assert '"datesClosed":31' in out
    assert '"interest":{"amount":"100.00"}' in out  # the first month's interest on 10,000.00 at 12 %
    assert '{"number":1,"dueDate":"2026-02-15","status":"PAID"' in out
    assert '{"role":"ADMIN","actorName":"ada-2"}' in out  # the lost admin token, replaced from the command line
    assert "\ntrue\n" in out and "\nclean\n" in out  # the trial balance balances; verify is clean
    assert "imported 1" in out or "1 entr" in out


def test_every_graphql_example_answers_without_errors(walkthrough):
    server, out = walkthrough
    token = re.search(r"README_ADMIN_TOKEN=(\S+)", out).group(1)
    for query in blocks("graphql"):
        body = server.graphql(query, token=token)
        assert "errors" not in body and body["data"], (query, json.dumps(body)[:2000])
