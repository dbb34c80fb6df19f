"""Clients that repay loans over HTTP with keyed retries, and the API server they talk to.

A client makes a fresh idempotency key for each repayment and sends it until it is acknowledged:
after a connection error, an HTTP 5xx or a retryable error code, it waits (exponential backoff,
capped, or the server's Retry-After) and sends the same key with the same input again. A key is
given up only when the phase's grace period is over. Every answer that is not an acknowledgement
is counted by its code (the error union's `code`, the top-level error's `extensions.code`, the HTTP
status, or the connection error's type), so a run shows what the clients went through.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from graphql_api.core.scalars import decode_id, encode_id
from reliability.books import Outcome, currency, repayment_amount

RECORD_REPAYMENT = """
mutation Repay($i: RecordRepaymentInput!) {
  recordRepayment(input: $i) {
    __typename
    ... on RecordRepaymentPayload { replayed transaction { id } }
    ... on Error { code message }
  }
}"""
RUN_CLOSE_OF_BUSINESS = """
mutation Close($i: RunCloseOfBusinessInput!) {
  runCloseOfBusiness(input: $i) {
    __typename
    ... on RunCloseOfBusinessPayload { businessDate loansProcessed alreadyDone }
    ... on Error { code message }
  }
}"""
# Typed answers that say "nothing was done, send it again": a client may resend under the same key.
retryable_codes = frozenset({"TRANSACTION_RETRIES_EXHAUSTED", "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR"})
request_seconds_max = 20.0
backoff_first_seconds, backoff_max_seconds = 0.05, 1.0
server_start_seconds_max = 90.0


class Refused(Exception):
    """An answer that is neither an acknowledgement nor retryable: the client's request was wrong."""


@dataclass
class Tally:
    """What one phase's clients saw."""

    requests: int = 0
    errors: Counter = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    replays_confirmed: int = 0
    first_answer_replayed: int = 0  # the first acknowledgement was a replay: an earlier, unanswered attempt was stored
    cob_dates_closed: int = 0


def backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after and retry_after.isdigit():
        return min(float(retry_after), backoff_max_seconds)
    return min(backoff_max_seconds, backoff_first_seconds * 2 ** attempt) * random.uniform(0.5, 1.0)


def answer_of(response: httpx.Response, field_name: str) -> tuple[dict | None, str | None]:
    """(the payload, None) for an answer of the mutation's payload type, else (None, the error's code)."""
    try:
        body = response.json()
    except ValueError:
        return None, f"HTTP {response.status_code}"
    if body.get("errors"):
        code = (body["errors"][0].get("extensions") or {}).get("code") or "GRAPHQL_ERROR"
        return None, code
    if response.status_code >= 500:
        return None, f"HTTP {response.status_code}"
    result = (body.get("data") or {}).get(field_name)
    if not result:
        return None, f"HTTP {response.status_code} without {field_name}"
    if "code" in result:
        return None, result["code"]
    return result, None


def retryable(code: str, status: int | None) -> bool:
    return code in retryable_codes or code.startswith("connection: ") or (status is not None and status >= 500)


async def send_until_answered(client: httpx.AsyncClient, tally: Tally, query: str, field_name: str, variables: dict,
                              give_up_at: float) -> dict | None:
    """Send one mutation until it is answered with its payload; None if `give_up_at` passed first."""
    attempt = 0
    while time.monotonic() < give_up_at:
        tally.requests += 1
        status, retry_after = None, None
        try:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            status, retry_after = response.status_code, response.headers.get("retry-after")
            payload, code = answer_of(response, field_name)
        except httpx.TransportError as exc:
            payload, code = None, f"connection: {type(exc).__name__}"
        if payload is not None:
            return payload
        tally.errors[code] += 1
        if not retryable(code, status):
            tally.refused.append(f"{field_name} {variables}: {code}")
            raise Refused(code)
        await asyncio.sleep(backoff(attempt, retry_after))
        attempt += 1
    return None


@dataclass
class Load:
    """Shared state of one run's clients: the outcomes by key and the loans' open business date."""

    base_url: str
    token: str
    loan_ids: tuple[uuid.UUID, ...]
    open_date: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    keys_made: int = 0

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=request_seconds_max,
                                 headers={"Authorization": f"Bearer {self.token}"})

    async def repay_once(self, client: httpx.AsyncClient, tally: Tally, phase: str, give_up_at: float, *,
                         resend: bool) -> None:
        """One repayment under a new key until acknowledged; with `resend`, the same key once more, which must replay."""
        loan_id = random.choice(self.loan_ids)
        self.keys_made += 1
        key = f"rel-{self.run_id}-{phase}-{self.keys_made}"
        outcome = self.outcomes[key] = Outcome(loan_id)
        variables = {"i": {"loanId": encode_id("Loan", loan_id), "amount": repayment_amount, "currency": currency,
                           "effectiveDate": self.open_date, "idempotencyKey": key}}
        for n in range(2 if resend else 1):
            payload = await send_until_answered(client, tally, RECORD_REPAYMENT, "recordRepayment", variables, give_up_at)
            if payload is None:
                return
            outcome.acknowledged += 1
            outcome.replays += payload["replayed"]
            outcome.transaction_ids.add(decode_id("LoanTransaction", payload["transaction"]["id"]))
            if n == 1 and payload["replayed"] and len(outcome.transaction_ids) == 1:
                tally.replays_confirmed += 1
            tally.first_answer_replayed += n == 0 and payload["replayed"]

    async def clients(self, count: int, phase: str, seconds: float, grace_seconds: float, tally: Tally,
                      resend_share: float = 0.2) -> None:
        """`count` clients repaying for `seconds`; the keys in flight at the end get `grace_seconds` more."""
        stop_at = time.monotonic() + seconds
        give_up_at = stop_at + grace_seconds

        async def one_client() -> None:
            async with self.client() as client:
                while time.monotonic() < stop_at:
                    try:
                        await self.repay_once(client, tally, phase, give_up_at, resend=random.random() < resend_share)
                    except Refused:
                        await asyncio.sleep(backoff_max_seconds)

        await asyncio.gather(*(one_client() for _ in range(count)))

    async def close_business_dates(self, dates: list[str], seconds: float, tally: Tally) -> None:
        """Close `dates` in order, spread over `seconds`, while the clients repay; each closed date moves
        the clients' effective date to the next open one."""
        gap = seconds / (len(dates) + 1)
        async with self.client() as client:
            for day in dates:
                await asyncio.sleep(gap)
                variables = {"i": {"businessDate": day, "idempotencyKey": f"rel-{self.run_id}-cob-{day}"}}
                payload = await send_until_answered(client, tally, RUN_CLOSE_OF_BUSINESS, "runCloseOfBusiness", variables,
                                                    time.monotonic() + seconds)
                if payload is None:
                    return
                tally.cob_dates_closed += 1
                self.open_date = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


class ApiServer:
    """`loanbook serve` in a subprocess: one worker process, so a SIGKILL takes the whole server down."""

    def __init__(self, env: dict[str, str], workdir: Path, port: int) -> None:
        self.env, self.workdir, self.port = env, workdir, port
        self.process: subprocess.Popen | None = None
        self.base_url = f"http://127.0.0.1:{port}"
        self.starts = 0

    def start(self) -> None:
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        self.starts += 1
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loanbook.cli", "serve", "--no-migrate", "--no-demo", "--workers", "1",
             "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + server_start_seconds_max
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"loanbook serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"loanbook serve did not answer /health within {server_start_seconds_max:g} s")
            time.sleep(0.1)

    def log_tail(self) -> str:
        logs = sorted(self.workdir.glob("server-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup; requests in flight are cut wherever they are."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def errors_line(errors: Counter) -> str:
    return ", ".join(f"{code} {count}" for code, count in errors.most_common()) or "none"

