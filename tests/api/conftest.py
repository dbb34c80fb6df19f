"""An API server per database backend: `loanbook serve` in a subprocess, reached over HTTP.

Each backend's server starts once per test run (about a second) and is shared; tests isolate
themselves by creating their own tenants and tokens directly in the server's database.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from identity import service as identity_service
from identity.model import Role
from ledger.unit_of_work import run_in_transaction
from loanbook.db import make_engine
from tests.conftest import new_tenant

server_start_seconds_max = 30
request_timeout_seconds = 30


@dataclass
class Tenant:
    id: int
    tokens: dict[Role, str] = field(default_factory=dict)


@dataclass
class ApiServer:
    backend: str
    base_url: str
    engine: sa.Engine
    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path
    client: httpx.Client

    def graphql(self, query: str, variables: dict | None = None, *, token: str | None = None, **headers: str) -> dict:
        response = self.post({"query": query, "variables": variables or {}}, token=token, **headers)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, body: object, *, token: str | None = None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.post(f"{self.base_url}/graphql", json=body, headers=headers)

    def tenant(self, *roles: Role) -> Tenant:
        """A new tenant (default chart of accounts) with one token per role."""
        tenant = Tenant(new_tenant(self.engine, prefix="api"))
        now = dt.datetime.now(dt.timezone.utc)
        for role in roles or (Role.ADMIN,):
            issued = run_in_transaction(
                self.engine, lambda c, role=role: identity_service.create_token(c, tenant.id, role, actor_name="test", now=now)
            )
            tenant.tokens[role] = issued.secret
        return tenant

    def another_token(self, tenant: Tenant, role: Role) -> str:
        """One more token of `role` for the tenant: a second person at the same desk (a different actor name)."""
        now = dt.datetime.now(dt.timezone.utc)
        issued = run_in_transaction(
            self.engine, lambda c: identity_service.create_token(c, tenant.id, role, actor_name="test", now=now)
        )
        return issued.secret

    def server_log(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(backend: str, db_url: str, workdir: Path) -> Iterator[ApiServer]:
    port = _free_port()
    stdout_path, stderr_path = workdir / "serve.out", workdir / "serve.err"
    env = {**os.environ, "LOANBOOK_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1", "LOANBOOK_NO_DEMO": "1"}
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "loanbook.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir, env=env, stdout=out, stderr=err,
        )
    client = httpx.Client(timeout=request_timeout_seconds)
    engine = make_engine(db_url)
    server = ApiServer(backend, f"http://127.0.0.1:{port}", engine, process, stdout_path, stderr_path, client)
    try:
        deadline = time.monotonic() + server_start_seconds_max
        while True:
            if process.poll() is not None:
                pytest.fail(f"loanbook serve exited with {process.returncode}:\n{server.server_log()}")
            try:
                if client.get(f"{server.base_url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"loanbook serve did not answer /health within {server_start_seconds_max}s:\n{server.server_log()}")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        client.close()
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """On an empty SQLite database, so `serve` also migrates it and creates the demo tenant."""
    workdir = tmp_path_factory.mktemp("api-sqlite")
    yield from _start("sqlite", f"sqlite:///{workdir / 'loanbook.db'}", workdir)


@pytest.fixture(scope="session")
def pg_api_server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from _start("postgresql", pg_url, tmp_path_factory.mktemp("api-pg"))


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest) -> ApiServer:
    return request.getfixturevalue("sqlite_api_server" if request.param == "sqlite" else "pg_api_server")
