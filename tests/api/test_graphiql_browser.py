"""GraphiQL in a real browser: headless Chromium loads /graphql offline, runs `{ me { role } }` with a token.

The browser is the system's Chromium (Debian's `chromium`), driven by playwright with its
executable path, so nothing is downloaded. Every request the page makes outside this server is
aborted, which is what a network without internet does. Under CI=true a missing browser fails the
run; elsewhere the test is skipped and says why.
"""
from __future__ import annotations

import json
import os
import shutil
from urllib.parse import urlsplit

import pytest

from graphql_api import graphiql
from identity.model import Role

chromium_paths = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
page_timeout_ms = 30_000


def chromium() -> str | None:
    return next((path for path in chromium_paths if os.access(path, os.X_OK)), shutil.which("chromium"))


def missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the GraphiQL browser test cannot run under CI: {reason}")
    pytest.skip(f"the GraphiQL browser test did not run: {reason}")


def test_graphiql_runs_a_query_offline_in_headless_chromium(sqlite_api_server):
    executable = chromium()
    if executable is None:
        missing("no Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    if not graphiql.assets_present():
        missing("GraphiQL's assets are not installed (make install needs npm)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (make install)")
    token = sqlite_api_server.tenant(Role.AUDITOR).tokens[Role.AUDITOR]
    server = urlsplit(sqlite_api_server.base_url).netloc
    outside: list[str] = []

    def offline(route) -> None:  # noqa: ANN001
        if urlsplit(route.request.url).netloc == server:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.route("**/*", offline)
            page.goto(f"{sqlite_api_server.base_url}/graphql", timeout=page_timeout_ms)
            page.wait_for_selector(".graphiql-container", timeout=page_timeout_ms)
            # The default tab shows where the token goes.
            assert "Authorization" in page.locator(".graphiql-query-editor").inner_text()
            set_editor(page, ".graphiql-query-editor", "{ me { role } }")
            page.get_by_role("button", name="Headers").click()
            set_editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", json.dumps({"Authorization": f"Bearer {token}"}))
            page.locator(".graphiql-execute-button").click()
            page.wait_for_function(
                "() => document.querySelector('.result-window')?.innerText.includes('AUDITOR')", timeout=page_timeout_ms,
            )
            answer = page.locator(".result-window").inner_text()
        finally:
            browser.close()
    assert '"role": "AUDITOR"' in answer, answer
    assert outside == [], f"the page tried to reach beyond the server: {outside}"


def set_editor(page, selector: str, text: str) -> None:  # noqa: ANN001
    """Replace a CodeMirror 5 editor's content (GraphiQL 3's editors) through its own API."""
    page.wait_for_selector(f"{selector} .CodeMirror")
    page.eval_on_selector(f"{selector} .CodeMirror", "(el, text) => el.CodeMirror.setValue(text)", text)
