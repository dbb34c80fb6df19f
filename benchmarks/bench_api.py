"""GraphQL API benchmark on PostgreSQL: the loan-detail query against a raw endpoint, and a repayment.

    .venv/bin/python benchmarks/bench_api.py                       # 2,000 loans, 16 connections, 20 s per phase
    .venv/bin/python benchmarks/bench_api.py --seconds 5           # a quick look

Creates its own database (`loanbook_bench_api_<random>`) on --pg-url and drops it afterwards. Loans are
seeded in bulk (36-installment schedules from the real `schedules` package, written with COPY, each with
a disbursement and 11 fee charges/waivers that cancel out), then two uvicorn subprocesses serve it:
`loanbook serve --no-migrate` (GraphQL) and a minimal Starlette app defined here (`raw_app`) that runs
the same SQL the GraphQL resolvers issue for the loan-detail query (token lookup, loan, installments,
last 10 transactions) and returns JSON. The token comes from `loanbook token create`. Phases, each with
--connections concurrent HTTP/1.1 connections for --seconds on 127.0.0.1:
  (a) GraphQL loan detail, every request a random loan;  (b) the raw endpoint, same loans;
  (c) recordRepayment, each connection on its own loan, a unique idempotency key per request;
  (d) the ledger's own single-entry rate on the road every posting takes (benchmarks/bench_ledger.py's
      clients: ledger.service.post_entry in ledger.unit_of_work.run_in_transaction, one process per
      client, --ledger-clients of them, sealing as the server does), so that (c) has its reference
      from the same run and the same machine.
(a) and (b) alternate in --slices slices, so outside load on a shared machine falls on both alike. Both
servers run --workers processes (default: what `loanbook serve` picks), and one lean asyncio HTTP/1.1
client (benchmarks/http_client.py) drives both. Each phase prints the servers' CPU per request (their
process trees, from /proc) and the client's; the ratio is also given by CPU per request, which moves
less than throughput when other work shares the cores.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench_cob import copy_rows  # noqa: E402
from http_client import Connection, Http11Error  # noqa: E402
from ledger import service as ledger  # noqa: E402
from ledger.actor import Actor  # noqa: E402
from ledger.model import EntryDraft, Posting  # noqa: E402
from ledger.money import to_minor  # noqa: E402
from ledger.unit_of_work import run_in_transaction  # noqa: E402
from loanbook.db import make_engine, make_reader, scratch_database  # noqa: E402
from loanbook.migrate import upgrade  # noqa: E402
from loanbook.server import default_workers  # noqa: E402
from loanbook.settings import Settings  # noqa: E402
from loans import borrowers, catalogue  # noqa: E402
from loans.booking import Application, installments_from, schedule_for  # noqa: E402
from loans.pii import FieldCipher, key_from_text, new_key_text  # noqa: E402
from loans.products import origination_fee  # noqa: E402

disbursed_on = dt.date(2026, 3, 1)
repayment_date = disbursed_on + dt.timedelta(days=1)  # the loans' open business date: no replay
term = 36
seed_batch = 5_000
fee_pairs = 5  # plus one charge: 1 disbursement + 11 fee transactions = 12, so `transactions(last: 10)` returns 10
target_ratio = 0.5
target_p99_ms = 100.0
target_ledger_ratio = 0.5  # recordRepayment against the ledger's single-entry rate
server_start_seconds_max = 60

LOAN_DETAIL = """
query LoanDetail($id: ID!) {
  loan(id: $id) {
    id status currency annualRate termPeriods disbursedOn businessDate daysPastDue bucket class nonAccrual scheduleVersion
    principal { amount currency }
    balances { principal { amount } interest { amount } fee { amount } penalty { amount } overpayment { amount }
               totalOutstanding { amount } }
    schedule { number dueDate principal { amount } interest { amount } fee { amount } total { amount }
               outstanding { amount } status }
    transactions(last: 10) { id type effectiveDate amount { amount currency }
                             allocation { principal { amount } interest { amount } fee { amount } } recordedAt }
  }
}"""

RECORD_REPAYMENT = """
mutation Repay($i: RecordRepaymentInput!) {
  recordRepayment(input: $i) {
    __typename
    ... on RecordRepaymentPayload { replayed transaction { id type amount { amount } }
                                    loan { id balances { principal { amount } overpayment { amount } } } }
    ... on Error { code message }
  }
}"""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ---------------------------------------------------------------- the raw endpoint (runs in its own uvicorn)


def raw_app():  # noqa: ANN201 - an ASGI app; `uvicorn --factory bench_api:raw_app`
    """GET /loan/{id}: the statements the GraphQL resolvers run for LOAN_DETAIL, as plain JSON."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from graphql_api.app import tune_garbage_collector
    from graphql_api.context import bearer_token
    from graphql_api.core.scalars import decode_id, encode_id
    from graphql_api.core.threads import read_statement
    from identity.service import authenticate
    from ledger.money import from_minor
    from loans import queries as loan_queries

    engine = make_engine(os.environ["LOANBOOK_DATABASE_URL"])
    reader = make_reader(engine)  # as `loanbook serve` reads

    def m(minor: int, currency: str) -> dict:
        return {"amount": str(from_minor(minor, currency)), "currency": currency}

    def a(minor: int, currency: str) -> dict:  # where the query asks for the amount alone
        return {"amount": str(from_minor(minor, currency))}

    async def loan_detail(request: Request) -> JSONResponse:
        secret = bearer_token(request)
        principal = None if secret is None else await read_statement(reader, authenticate, secret, now())
        if principal is None:
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        tenant_id = principal.tenant_id
        loan_id = decode_id("Loan", request.path_params["id"])
        found = await read_statement(reader, loan_queries.loans_by_id, tenant_id, [loan_id])
        row = found.get(loan_id)
        if row is None:
            return JSONResponse({"loan": None})
        installments, history = await asyncio.gather(
            read_statement(reader, loan_queries.installments_by_schedule, tenant_id, [(row.id, row.schedule_version)]),
            read_statement(reader, loan_queries.transactions_by_loan, tenant_id, [row.id], 10),
        )
        c = row.currency
        schedule = []
        for i in installments[(row.id, row.schedule_version)]:
            outstanding = (i.principal - i.principal_paid) + (i.interest - i.interest_paid) + (i.fee - i.fee_paid)
            status = "PAID" if outstanding == 0 else "OVERDUE" if row.last_cob_date and i.due_date < row.last_cob_date else "DUE"
            schedule.append({
                "number": i.number, "dueDate": i.due_date.isoformat(), "principal": a(i.principal, c), "interest": a(i.interest, c),
                "fee": a(i.fee, c), "total": a(i.principal + i.interest + i.fee, c), "outstanding": a(outstanding, c), "status": status,
            })
        transactions = [
            {"id": encode_id("LoanTransaction", t.id), "type": t.type, "effectiveDate": t.effective_date.isoformat(),
             "amount": m(t.amount, t.currency),
             "allocation": {"principal": a(t.principal, c), "interest": a(t.interest, c), "fee": a(t.fee, c)},
             "recordedAt": t.recorded_at.isoformat()}
            for t in history[row.id]
        ]
        total = row.principal + row.interest + row.interest_suspended + row.fee + row.penalty + row.penalty_suspended
        body = {"loan": {
            "id": encode_id("Loan", row.id), "status": row.status, "currency": c, "annualRate": row.annual_rate,
            "termPeriods": row.term_periods, "disbursedOn": row.disbursed_on and row.disbursed_on.isoformat(),
            "businessDate": row.last_cob_date and row.last_cob_date.isoformat(), "daysPastDue": row.dpd, "bucket": row.bucket,
            "class": row.loan_class, "nonAccrual": row.non_accrual, "scheduleVersion": row.schedule_version,
            "principal": m(to_minor(row.principal_requested, c), c),
            "balances": {"principal": a(row.principal, c), "interest": a(row.interest, c), "fee": a(row.fee, c),
                         "penalty": a(row.penalty, c), "overpayment": a(row.overpayment, c), "totalOutstanding": a(total, c)},
            "schedule": schedule, "transactions": transactions,
        }}
        return JSONResponse({"data": body})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app):  # noqa: ANN001, ANN202
        tune_garbage_collector()  # the same process tuning as `loanbook serve`, for a like-for-like reference
        yield

    return Starlette(routes=[Route("/loan/{id}", loan_detail), Route("/health", health)], lifespan=lifespan)


# ---------------------------------------------------------------- seeding


def seed(engine: sa.Engine, count: int, cipher: FieldCipher) -> list[uuid.UUID]:
    """`count` active 36-month loans disbursed on `disbursed_on`, 12 transactions each; returns their ids."""
    started = time.perf_counter()
    tenant_id = run_in_transaction(engine, lambda c: ledger.create_tenant(c, "bench", "API bench", actor_name="bench", now=now()))
    actor = Actor(tenant_id, "bench", now())
    product = run_in_transaction(engine, lambda c: catalogue.create_product(c, actor, {
        "code": "CASH36", "name": "Cash loan 36m", "currency": "CNY", "origination_fee_rate": "0.01",
        "penalty_daily_rate": "0.0005", "late_fee": "30", "late_fee_grace_days": 3, "amount_max": "200000", "term_max": 36,
    }))
    borrower = run_in_transaction(engine, lambda c: borrowers.create_borrower(c, actor, cipher, name="Bench borrower"))
    rng = random.Random(7)
    ids: list[uuid.UUID] = []
    for start in range(0, count, seed_batch):
        size = min(seed_batch, count - start)
        loans, installments, transactions, totals = [], [], [], [0, 0, 0]
        for _ in range(size):
            principal = Decimal(rng.randrange(5_000, 100_000))
            rate = Decimal(rng.choice(["0.08", "0.12", "0.18", "0.24"]))
            schedule = schedule_for(product, Application(principal, rate, term, disbursed_on))
            loan_id = uuid.uuid4()
            ids.append(loan_id)
            fee = to_minor(origination_fee(product, principal), "CNY")
            financed = to_minor(schedule.financed_principal, "CNY")
            totals[0] += financed
            totals[1] += financed - fee
            totals[2] += fee
            loans.append((tenant_id, loan_id, borrower, "CASH36", product.version, "ACTIVE", "CNY", str(principal), str(rate), term,
                          disbursed_on, str(schedule.annualized_rate), "bench", "bench", disbursed_on, 1, financed, disbursed_on,
                          now(), now()))
            for i in installments_from(schedule):
                installments.append((tenant_id, loan_id, 1, i.number, i.due_date, i.accrual_start, i.accrual_end,
                                     i.principal, i.interest, i.fee))
            recorded = now()
            transactions.append((tenant_id, uuid.uuid4(), loan_id, 1, "DISBURSEMENT", disbursed_on, "CNY", financed, financed, 0, 0,
                                 0, 0, "bench", recorded))
            # Charged and waived fees cancel out, so the loan's balances stay those of a fresh disbursement.
            for n in range(2 * fee_pairs + 1):
                kind = "FEE_CHARGE" if n % 2 == 0 else "FEE_WAIVER"
                transactions.append((tenant_id, uuid.uuid4(), loan_id, n + 2, kind, disbursed_on, "CNY", 500, 0, 0, 500, 0, 0,
                                     "bench", recorded + dt.timedelta(microseconds=n + 1)))
        copy_rows(engine, loans, installments)
        copy_transactions(engine, transactions)
        draft = EntryDraft(disbursed_on, (Posting("1200", "CNY", totals[0]), Posting("1100", "CNY", -totals[1]),
                                          Posting("4200", "CNY", -totals[2])), f"bench disbursements {start}", {"bench": True})
        run_in_transaction(engine, lambda c: ledger.post_entry(c, actor, draft))
    with engine.begin() as conn:
        # The last charge is still due: one fee of 5.00 on each loan; 12 transactions recorded.
        conn.execute(sa.text("UPDATE loans SET fee = 500, transactions_recorded = :n WHERE tenant_id = :t"),
                     {"n": 2 * fee_pairs + 2, "t": tenant_id})
        conn.execute(sa.text("ANALYZE"))
    print(f"seeded {count:,} active loans ({term} installments and {2 * fee_pairs + 2} transactions each) "
          f"in {time.perf_counter() - started:.1f} s")
    return ids


def copy_transactions(engine: sa.Engine, rows: list[tuple]) -> None:
    raw = engine.raw_connection()
    try:
        with raw.cursor().copy(
            "COPY loan_transactions (tenant_id, id, loan_id, sequence, type, effective_date, currency, amount, principal,"
            " interest, fee, penalty, overpayment, actor, recorded_at) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


# ---------------------------------------------------------------- servers and load


def uvicorn_flavour() -> str:
    """Which event loop and HTTP parser uvicorn's "auto" settings pick in this environment."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], workdir: Path, name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)], cwd=workdir, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + server_start_seconds_max
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}:\n{(workdir / f'{name}.log').read_text()}")
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not answer /health within {server_start_seconds_max} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    wanted, total = [pid], 0.0
    while wanted:
        current = wanted.pop()
        total += times.get(current, 0.0)
        wanted.extend(child for child, parent in parents.items() if parent == current)
    return total


class Result:
    def __init__(self, name: str, seconds: float, latencies: list[float], failures: list[str],
                 server_cpu: float = float("nan"), client_cpu: float = float("nan")) -> None:
        self.name, self.seconds, self.latencies, self.failures = name, seconds, sorted(latencies), failures
        self.server_cpu, self.client_cpu = server_cpu, client_cpu  # seconds over the measured window

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        return self.latencies[min(len(self.latencies) - 1, int(p * len(self.latencies)))] * 1000

    def line(self) -> str:
        done = max(1, len(self.latencies) + len(self.failures))
        return (f"{self.name:<34} {len(self.latencies):>7,} ok {len(self.failures):>4} failed  {self.rps:>8.1f} req/s  "
                f"p50 {self.pct(0.50):6.1f} ms  p99 {self.pct(0.99):6.1f} ms  mean {statistics.fmean(self.latencies or [math.nan]) * 1000:6.1f} ms  "
                f"CPU/request server {self.server_cpu / done * 1000:5.2f} ms client {self.client_cpu / done * 1000:5.2f} ms")


def merged(slices: list[Result]) -> Result:
    """One result from the slices of a phase."""
    return Result(
        slices[0].name, sum(r.seconds for r in slices), [t for r in slices for t in r.latencies],
        [f for r in slices for f in r.failures], sum(r.server_cpu for r in slices), sum(r.client_cpu for r in slices),
    )


def cpu_ratio(graphql: Result, raw: Result) -> float:
    """The throughput ratio if both were bound by the servers' CPU alone: raw's CPU per request over GraphQL's."""
    per_request = [r.server_cpu / max(1, len(r.latencies) + len(r.failures)) for r in (graphql, raw)]
    return per_request[1] / per_request[0] if per_request[0] else float("nan")


async def load(name: str, base: str, headers: dict[str, str], server_pid: int, connections: int, seconds: float, warmup: float,
               request) -> Result:  # noqa: ANN001
    """`connections` loops, each on its own keep-alive connection, calling `request(conn, worker, n)` until time is up.

    `request` returns None when the answer is right, else a short description. Only requests started after
    the warm-up and finished before the end count. CPU is sampled at the start and end of the measured window:
    the server's process tree from /proc, this (client) process from time.process_time."""
    latencies: list[float] = []
    failures: list[str] = []
    clients = [Connection(base, headers) for _ in range(connections)]
    begin = time.perf_counter()
    measure_from, end = begin + warmup, begin + warmup + seconds
    cpu: dict[str, float] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu["server"], cpu["client"] = tree_cpu_seconds(server_pid), time.process_time()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu["server"], cpu["client"] = tree_cpu_seconds(server_pid) - cpu["server"], time.process_time() - cpu["client"]

    async def worker(w: int) -> None:
        n = 0
        while True:
            started = time.perf_counter()
            if started >= end:
                return
            try:
                problem = await request(clients[w], w, n)
            except (Http11Error, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            finished = time.perf_counter()
            n += 1
            if started >= measure_from and finished <= end:
                if problem is None:
                    latencies.append(finished - started)
                else:
                    failures.append(problem)

    try:
        await asyncio.gather(sample_cpu(), *(worker(w) for w in range(connections)))
    finally:
        for client in clients:
            await client.close()
    result = Result(name, seconds, latencies, failures, cpu["server"], cpu["client"])
    if failures:
        print(f"  {name}: first failure: {failures[0][:300]}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=2_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of each server (default: what `loanbook serve` picks on PostgreSQL)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each phase")
    parser.add_argument("--slices", type=int, default=4, help="(a) and (b) alternate in this many slices of the measured time")
    parser.add_argument("--ledger-clients", type=int, default=8, help="client processes of the ledger phase (d)")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = f"loanbook_bench_api_{uuid.uuid4().hex[:8]}"
    with scratch_database(args.pg_url, name, keep=args.keep) as db_url:
        engine = make_engine(db_url, pool_size=4)
        processes: list[subprocess.Popen] = []
        try:
            upgrade(engine)
            key = new_key_text()
            loan_ids = seed(engine, args.loans, FieldCipher(key_from_text(key)))
            env = {**os.environ, "LOANBOOK_DATABASE_URL": db_url, "LOANBOOK_ENCRYPTION_KEY": key, "PYTHONUNBUFFERED": "1"}
            with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
                workdir = Path(tmp)
                token = subprocess.run(
                    [sys.executable, "-m", "loanbook.cli", "token", "create", "--tenant", "bench", "--role", "admin",
                     "--name", "bench-admin"],
                    env=env, cwd=workdir, check=True, capture_output=True, text=True,
                ).stdout.strip()
                workers = str(args.workers or default_workers(Settings(database_url=db_url)))
                print(f"servers: {workers} worker process(es) each, uvicorn loop {uvicorn_flavour()}")
                graphql_process, graphql_base = start(
                    [sys.executable, "-m", "loanbook.cli", "serve", "--no-migrate", "--workers", workers], env, workdir, "graphql")
                processes.append(graphql_process)
                raw_process, raw_base = start(
                    [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).resolve().parent), "--factory",
                     "bench_api:raw_app", "--log-level", "warning", "--no-access-log", "--workers", workers], env, workdir, "raw")
                processes.append(raw_process)
                repay = asyncio.run(run(args, token, graphql_base, graphql_process.pid, raw_base, raw_process.pid, loan_ids))
                for process in processes:  # the ledger phase has the machine to itself, as (c) had
                    stop(process)
                processes.clear()
                ledger_phase(args, db_url, repay, env.get("LOANBOOK_SEAL_MODE") or "commit")
        finally:
            for process in processes:
                stop(process)
            engine.dispose()
    return 0


async def run(args: argparse.Namespace, token: str, graphql_base: str, graphql_pid: int, raw_base: str, raw_pid: int,
              loan_ids: list[uuid.UUID]) -> None:
    from graphql_api.core.scalars import encode_id

    headers = {"Authorization": f"Bearer {token}"}
    opaque = [encode_id("Loan", loan_id) for loan_id in loan_ids]
    # The repayment phase gets loans of its own, one per connection; the read phases use the rest.
    repaid, read_ids = opaque[: args.connections], opaque[args.connections:]
    rng = random.Random(11)

    # The two endpoints must answer the same thing, or the comparison means nothing.
    async with httpx.AsyncClient(timeout=30) as client:
        sample = read_ids[0]
        g = (await client.post(f"{graphql_base}/graphql", json={"query": LOAN_DETAIL, "variables": {"id": sample}}, headers=headers)).json()
        r = (await client.get(f"{raw_base}/loan/{sample}", headers=headers)).json()
        assert "errors" not in g, g
        gl, rl = g["data"]["loan"], r["data"]["loan"]
        differ = [key for key in gl if gl[key] != rl.get(key)]
        same = not differ and len(gl["schedule"]) == term and len(gl["transactions"]) == 10
        print(f"check: GraphQL and raw answers are identical JSON ({term} installments, 10 transactions): "
              f"{'yes' if same else 'NO, they differ in ' + ', '.join(differ)}")

    async def graphql_detail(conn: Connection, worker: int, n: int) -> str | None:
        status, raw_body = await conn.post_json("/graphql", {"query": LOAN_DETAIL, "variables": {"id": rng.choice(read_ids)}})
        body = json.loads(raw_body) if status == 200 else None
        if body is None or "errors" in body or body["data"]["loan"] is None or len(body["data"]["loan"]["schedule"]) != term:
            return f"{status} {raw_body[:200]!r}"
        return None

    async def raw_detail(conn: Connection, worker: int, n: int) -> str | None:
        status, raw_body = await conn.get(f"/loan/{rng.choice(read_ids)}")
        body = json.loads(raw_body) if status == 200 else None
        if body is None or body["data"]["loan"] is None or len(body["data"]["loan"]["schedule"]) != term:
            return f"{status} {raw_body[:200]!r}"
        return None

    run_id = uuid.uuid4().hex[:8]

    async def repayment(conn: Connection, worker: int, n: int) -> str | None:
        data = {"loanId": repaid[worker], "amount": "1.00", "currency": "CNY", "effectiveDate": repayment_date.isoformat(),
                "idempotencyKey": f"bench-{run_id}-{worker}-{n}"}
        status, raw_body = await conn.post_json("/graphql", {"query": RECORD_REPAYMENT, "variables": {"i": data}})
        body = json.loads(raw_body) if status == 200 else None
        if body is None or "errors" in body or body["data"]["recordRepayment"]["__typename"] != "RecordRepaymentPayload" \
                or body["data"]["recordRepayment"]["replayed"]:
            return f"{status} {raw_body[:200]!r}"
        return None

    c, s, w = args.connections, args.seconds, args.warmup
    print(f"load: {c} concurrent connections, {s:.0f} s measured per phase ((a) and (b) alternating in {args.slices} slices) "
          f"after {w:.0f} s warm-up, "
          f"{len(read_ids):,} loans read at random, {len(repaid)} loans repaid (one per connection)")
    # (a) and (b) alternate in slices, so load from outside (a shared machine) falls on both alike.
    graphql_slices, raw_slices = [], []
    for n in range(args.slices):
        warmup = w if n == 0 else min(w, 0.5)
        graphql_slices.append(await load("(a) GraphQL loan detail", graphql_base, headers, graphql_pid, c, s / args.slices, warmup,
                                         graphql_detail))
        raw_slices.append(await load("(b) raw Starlette JSON, same SQL", raw_base, headers, raw_pid, c, s / args.slices, warmup,
                                     raw_detail))
    graphql, raw = merged(graphql_slices), merged(raw_slices)
    print(graphql.line())
    print(raw.line())
    repay = await load("(c) GraphQL recordRepayment", graphql_base, headers, graphql_pid, c, s, w, repayment)
    print(repay.line())
    ratio = graphql.rps / raw.rps if raw.rps else float("nan")
    failed = len(graphql.failures) + len(raw.failures) + len(repay.failures)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print(f"ratio GraphQL / raw: {ratio:.2f}x (by CPU per request: {cpu_ratio(graphql, raw):.2f}x)")
    print(f"target: GraphQL loan detail >= {target_ratio}x the raw endpoint: {ratio:.2f}x: {verdict(ratio >= target_ratio)}")
    print(f"target: GraphQL loan detail p99 < {target_p99_ms:.0f} ms: {graphql.pct(0.99):.1f} ms: "
          f"{verdict(graphql.pct(0.99) < target_p99_ms)}")
    print(f"target: recordRepayment p99 < {target_p99_ms:.0f} ms: {repay.pct(0.99):.1f} ms: {verdict(repay.pct(0.99) < target_p99_ms)}")
    print(f"failed requests: {failed}" + ("" if not failed else " (see the first failure of each phase above)"))
    return repay


def ledger_phase(args: argparse.Namespace, db_url: str, repay: Result, seal_mode: str) -> None:
    """(d): entries per second of the ledger's single-entry road, and (c)'s ratio to it."""
    import bench_ledger

    tenant_id = bench_ledger.prepare_books(db_url, 1000, slug="bench-ledger")
    codes = bench_ledger.uniform_codes(1000)
    mode = "background" if seal_mode == "background" else "commit"
    got = bench_ledger.entries_per_second(db_url, tenant_id, codes, clients=args.ledger_clients, hot=False, mode=mode,
                                          duration=args.seconds)
    rate = got.rate
    ratio = repay.rps / rate if rate else float("nan")
    print(f"(d) ledger single entry, {args.ledger_clients} clients, seal {mode}: {rate:,.0f} entries/s "
          f"(client {got.client_ms:.2f} ms, server {got.server_ms:.2f} ms CPU per entry)")
    print(f"target: recordRepayment >= {target_ledger_ratio}x the ledger's single-entry rate: {ratio:.2f}x "
          f"({repay.rps:,.0f} vs {rate:,.0f}): {'PASS' if ratio >= target_ledger_ratio else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
