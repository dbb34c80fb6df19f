"""Ledger benchmark on PostgreSQL: prints figures and ratios against the ledger's targets.

    .venv/bin/python benchmarks/bench_ledger.py                    # the target sizes (~6 minutes)
    .venv/bin/python benchmarks/bench_ledger.py --duration 2 --clients 1,2 --bulk-batches 1 \\
        --asof-big-postings 20000 --asof-small-postings 200         # a quick look

It creates its own database (`loanbook_bench_<random>`, plus `<that>_pgbench` for pgbench) on the
server named by --pg-url and drops both at the end. Every client is a process with its own engine
and posts each entry the way a repayment, a manual entry or the CLI does: ledger.service.post_entry
in ledger.unit_of_work.run_in_transaction, one transaction per entry. Its pool of one connection
keeps the same connection for the run, as each pgbench client does; processes, so Python's GIL
does not cap the client count; clients and server share this machine's cores, as
they would on a single-box deployment, and pgbench runs under the same conditions, right before and
right after the cases of each client count (the ratio uses the mean of the two).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import datetime as dt
import itertools
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from ledger import queries, service  # noqa: E402
from ledger.actor import Actor  # noqa: E402
from ledger.model import AccountType, EntryDraft, credit, debit  # noqa: E402
from ledger.sealing import follow, seal_pending  # noqa: E402
from ledger.unit_of_work import run_in_transaction  # noqa: E402
from ledger.verify import verify_books  # noqa: E402
from loanbook.db import make_engine, scratch_database  # noqa: E402
from loanbook.migrate import upgrade  # noqa: E402

nan = math.nan
currency = "CNY"
bank_code = "1100"
hot_slots = 8
asof_range_days = 3 * 365
asof_first_day = dt.date(2023, 1, 1)
business_day = dt.date(2026, 1, 15)
target_vs_pgbench = 0.5
target_hot_vs_uniform = 0.8
target_bulk_postings_per_second = 100_000
target_asof_ms = 5.0
target_asof_ratio = 2.0
receipts_per_entry = 50
chain_modes = ("background", "commit", "off")
history_entries_per_batch = 200
workload_entries = 10_000  # random entries each client prepares, then cycles through
bulk_warmup_entries = 100  # the untimed first bulk batch


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg-url", default=os.environ.get("LOANBOOK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
                   help="any database on the server; the benchmark makes its own next to it")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per throughput case")
    p.add_argument("--clients", default="1,4,8", help="comma-separated client counts")
    p.add_argument("--accounts", type=int, default=1000, help="accounts the uniform workload picks from")
    p.add_argument("--pgbench-scale", type=int, default=10)
    p.add_argument("--bulk-entries", type=int, default=10_000, help="entries per bulk transaction")
    p.add_argument("--bulk-batches", type=int, default=5, help="timed batches, after one small untimed warm-up batch")
    p.add_argument("--asof-big-postings", type=int, default=1_000_000)
    p.add_argument("--asof-small-postings", type=int, default=1_000)
    p.add_argument("--asof-calls", type=int, default=500)
    p.add_argument("--skip-pgbench", action="store_true")
    p.add_argument("--cases", default="background,commit,off",
                   help="audit chain modes to measure: background (a sealer process follows the queue, as Blnk does), "
                        "commit (each transaction returns once its events are sealed), off (no sealing while measured)")
    p.add_argument("--no-verify", action="store_true", help="skip `loanbook verify` over the benchmark's books")
    p.add_argument("--keep-db", action="store_true", help="do not drop the benchmark databases")
    args = p.parse_args(argv)
    args.client_counts = [int(c) for c in args.clients.split(",")]
    args.modes = [m.strip() for m in args.cases.split(",") if m.strip()]
    unknown = set(args.modes) - set(chain_modes)
    if unknown:
        p.error(f"--cases: unknown mode(s) {', '.join(sorted(unknown))}; choose from {', '.join(chain_modes)}")
    return args


# --- databases -----------------------------------------------------------------------------------


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def uniform_codes(count: int) -> list[str]:
    return [f"1500.{i:04d}" for i in range(count)]


def prepare_books(url: str, account_count: int, slug: str = "bench") -> int:
    """Migrate, create a tenant with the default chart, open the uniform accounts; return tenant id."""
    engine = make_engine(url)
    upgrade(engine)
    tenant_id = run_in_transaction(
        engine, lambda c: service.create_tenant(c, slug, "Benchmark lender", actor_name="bench", now=utc_now())
    )
    actor = Actor(tenant_id, "bench", utc_now())
    codes = uniform_codes(account_count)

    def open_accounts(conn: sa.Connection) -> None:
        service.open_account(conn, actor, "1500", "Loans receivable (benchmark)", AccountType.ASSET, parent_code="1000", is_header=True)
        for code in codes:
            service.open_account(conn, actor, code, f"Loan {code}", AccountType.ASSET, parent_code="1500")

    run_in_transaction(engine, open_accounts)
    engine.dispose()
    vacuum(url)  # planner statistics for the fresh tables
    return tenant_id


# --- single-entry throughput ---------------------------------------------------------------------


Leg = tuple[bool, str, Decimal]  # debit?, account code, amount


def random_legs(rng: random.Random, codes: list[str], hot: bool) -> list[Leg]:
    """2-4 postings of whole and fractional amounts; with `hot`, one leg is always the bank account."""
    legs = rng.choice((2, 2, 3, 4))
    picked = rng.sample(codes, legs - 1 if hot else legs)
    if hot:
        picked.insert(0, bank_code)
    amounts = [Decimal(rng.randrange(100, 5_000_000)).scaleb(-2) for _ in range(legs - 1)]
    first_debit = rng.random() < 0.5
    return [(first_debit, picked[0], sum(amounts))] + [(not first_debit, c, a) for c, a in zip(picked[1:], amounts)]


def draft_of(legs: list[Leg]) -> EntryDraft:
    """The entry a client builds from its input: amounts are checked and converted here (ledger.money)."""
    postings = tuple((debit if is_debit else credit)(code, amount, currency) for is_debit, code, amount in legs)
    return EntryDraft(business_day, postings, "benchmark entry", {"loan_id": legs[-1][1]})


def random_draft(rng: random.Random, codes: list[str], hot: bool) -> EntryDraft:
    return draft_of(random_legs(rng, codes, hot))


def client_process(url: str, tenant_id: int, codes: list[str], hot: bool, seal: bool, duration: float,
                   seed: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(url, pool_size=1)
    rng = random.Random(seed)
    # The random choices are made before the clock starts (pgbench's cost nothing); building each
    # entry from them, which checks and converts its amounts, runs in the timed loop.
    workload = itertools.cycle([random_legs(rng, codes, hot) for _ in range(workload_entries)])

    def post_one() -> None:
        actor = Actor(tenant_id, f"client-{seed}", utc_now())
        draft = draft_of(next(workload))
        run_in_transaction(engine, lambda conn: service.post_entry(conn, actor, draft), seal=seal)

    for _ in range(20):  # connection, chart cache, prepared statements
        post_one()
    with engine.connect() as conn:  # the pool's one connection, which every entry runs on
        backend = conn.connection.driver_connection.info.backend_pid
    barrier.wait()
    started, cpu, server_cpu = time.perf_counter(), time.process_time(), backend_cpu_seconds(backend)
    deadline = started + duration
    count = 0
    while time.perf_counter() < deadline:
        post_one()
        count += 1
    results.put((count, time.perf_counter() - started, time.process_time() - cpu, backend_cpu_seconds(backend) - server_cpu))
    engine.dispose()


def backend_cpu_seconds(pid: int) -> float:
    """CPU time of a PostgreSQL backend process (the server runs on this machine; nan if it does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sealer_process(url: str, stop, sealed) -> None:  # type: ignore[no-untyped-def]
    """`loanbook seal --follow`: one process chaining every tenant's queue while the clients post."""
    engine = make_engine(url, pool_size=1)
    sealed.put(follow(engine, stop))
    engine.dispose()


@dataclass(frozen=True)
class Throughput:
    rate: float  # entries per second
    chained: int  # events the background sealer chained meanwhile
    client_ms: float  # client (Python) CPU per entry
    server_ms: float  # its PostgreSQL backend's CPU per entry


def entries_per_second(url: str, tenant_id: int, codes: list[str], *, clients: int, hot: bool, mode: str,
                       duration: float) -> Throughput:
    """Entries/s of `clients` processes; the sealer (background mode) runs on the same cores as the clients."""
    # Forked clients start in milliseconds; the parent holds no open connection at this point.
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(clients), ctx.Queue()
    stop, sealed = ctx.Event(), ctx.Queue()
    sealer = ctx.Process(target=sealer_process, args=(url, stop, sealed)) if mode == "background" else None
    if sealer is not None:
        sealer.start()
    procs = [
        ctx.Process(target=client_process,
                    args=(url, tenant_id, codes, hot, mode == "commit", duration, 1000 * clients + i, barrier, results))
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=duration + 300) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a benchmark client failed with exit code {proc.exitcode}")
    chained = 0
    if sealer is not None:
        stop.set()
        chained = sealed.get(timeout=300)
        sealer.join()
    entries = sum(o[0] for o in outcomes)
    return Throughput(
        entries / max(o[1] for o in outcomes), chained,
        1000 * sum(o[2] for o in outcomes) / entries, 1000 * sum(o[3] for o in outcomes) / entries,
    )


def vacuum(url: str) -> None:
    """What autovacuum does in production; this server may run without it (CI turns it off).

    The audit queue is written and emptied once per entry, so without vacuum its index fills
    with dead entries that every later seal steps over, and the figures drift down case by case.
    """
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def seal_backlog(url: str, tenant_id: int) -> int:
    engine = make_engine(url)
    sealed = seal_pending(engine, tenant_id)
    engine.dispose()
    return sealed


# --- pgbench -------------------------------------------------------------------------------------


class Pgbench:
    """`pgbench -M prepared` tpcb-like on its own database next to ours, run between our cases."""

    def __init__(self, admin_url: str, name: str, scale: int, duration: float) -> None:
        if shutil.which("pgbench") is None:
            raise RuntimeError("pgbench is not on PATH")
        parsed = sa.make_url(admin_url)
        self.name, self.duration = name, duration
        self.conn_args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
        self.env = dict(os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {}))
        subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), *self.conn_args, name], check=True, capture_output=True, env=self.env)

    def tps(self, clients: int) -> float:
        out = subprocess.run(
            ["pgbench", "-M", "prepared", "-c", str(clients), "-j", str(clients), "-T", str(max(1, round(self.duration))),
             *self.conn_args, self.name],
            check=True, capture_output=True, text=True, env=self.env,
        ).stdout
        match = re.search(r"^tps = ([0-9.]+)", out, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"could not read tps from pgbench output:\n{out}")
        return float(match.group(1))


# --- bulk ----------------------------------------------------------------------------------------


def bulk_postings_per_second(url: str, tenant_id: int, codes: list[str], entries: int, batches: int) -> list[tuple[int, float]]:
    """(postings, seconds) per batch: one import_entries call in one transaction, sealed after commit.

    A first batch of `bulk_warmup_entries`, untimed, opens the connection and reads the chart, as
    pgbench leaves its connection set-up out of its figure: the timed batches are an importer's steady state.
    """
    engine = make_engine(url)
    rng = random.Random(7)
    outcomes = []
    for n in range(batches + 1):
        drafts = [random_draft(rng, codes, hot=rng.random() < 0.5) for _ in range(entries if n else bulk_warmup_entries)]
        actor = Actor(tenant_id, "bulk-import", utc_now())
        started = time.perf_counter()
        run_in_transaction(engine, lambda c: service.import_entries(c, actor, drafts, reference="benchmark"))
        if n:
            outcomes.append((sum(len(d.postings) for d in drafts), time.perf_counter() - started))
    engine.dispose()
    return outcomes


# --- balance as of -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsOfAccounts:
    big: str
    small: str
    load_postings: int
    load_seconds: float


def load_asof_history(url: str, tenant_id: int, big_postings: int, small_postings: int) -> AsOfAccounts:
    """One account with `big_postings` postings, spread over three years of business days.

    History arrives as bank-statement imports: each entry books `receipts_per_entry` receipts, one
    debit to the collections account `9100` and one credit to a loan account per receipt, with
    as many loan accounts as make each end with about `small_postings` postings. Entries go in
    through post_entries, `history_entries_per_batch` per transaction, sealed after each commit.
    """
    engine = make_engine(url)
    actor = Actor(tenant_id, "history-loader", utc_now())
    loans = [f"9200.{i:04d}" for i in range(max(1, big_postings // small_postings))]

    def open_accounts(conn: sa.Connection) -> None:
        service.open_account(conn, actor, "9100", "Collections bank account", AccountType.ASSET, balance_slots=hot_slots)
        service.open_account(conn, actor, "9200", "Loans (history)", AccountType.ASSET, is_header=True)
        for code in loans:
            service.open_account(conn, actor, code, f"Loan {code}", AccountType.ASSET, parent_code="9200")

    run_in_transaction(engine, open_accounts)
    rng = random.Random(11)
    entry_count = -(-big_postings // receipts_per_entry)
    days = sorted(asof_first_day + dt.timedelta(days=rng.randrange(asof_range_days)) for _ in range(entry_count))
    posted, seconds, receipt = 0, 0.0, 0
    for start in range(0, entry_count, history_entries_per_batch):
        drafts = []
        for day in days[start : start + history_entries_per_batch]:
            legs = []
            for _ in range(min(receipts_per_entry, big_postings - receipt)):
                amount = Decimal(rng.randrange(100, 500_000)).scaleb(-2)
                legs += [debit("9100", amount, currency), credit(loans[receipt % len(loans)], amount, currency)]
                receipt += 1
            drafts.append(EntryDraft(day, tuple(legs), "bank statement import"))
        started = time.perf_counter()
        run_in_transaction(engine, lambda c: service.post_entries(c, actor, drafts))
        seconds += time.perf_counter() - started
        posted += sum(len(d.postings) for d in drafts)
    engine.dispose()
    vacuum(url)  # what a DBA runs after a bulk load; autovacuum would get there too
    return AsOfAccounts("9100", loans[0], posted, seconds)


def asof_latency_ms(url: str, tenant_id: int, code: str, calls: int) -> float:
    """Median milliseconds of balance_as_of at random dates across the history (one connection)."""
    engine = make_engine(url)
    rng = random.Random(13)
    timings = []
    with engine.connect() as conn:
        for i in range(calls + 20):
            as_of = asof_first_day + dt.timedelta(days=rng.randrange(asof_range_days + 30))
            started = time.perf_counter()
            queries.balance_as_of(conn, tenant_id, code, currency, as_of)
            if i >= 20:
                timings.append((time.perf_counter() - started) * 1000)
        conn.rollback()
    engine.dispose()
    return statistics.median(timings)


def count_postings(url: str, tenant_id: int, code: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            sa.text("SELECT count(*) FROM postings WHERE tenant_id = :t AND account_code = :c"), {"t": tenant_id, "c": code}
        ).scalar_one()
    engine.dispose()
    return n


# --- report --------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def timed(label: str, fn: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = fn()
    print(f"  ({label}: {time.perf_counter() - started:.1f} s)", flush=True)
    return result


def run(args: argparse.Namespace) -> int:
    name = f"loanbook_bench_{uuid.uuid4().hex[:8]}"
    print(f"loanbook ledger benchmark  database={name}  cores={os.cpu_count()}  duration={args.duration:g}s/case", flush=True)
    print("(VACUUM ANALYZE runs, untimed, before each case: this server may have autovacuum off)", flush=True)
    with scratch_database(args.pg_url, name, keep=args.keep_db) as url:
        tenant_id = prepare_books(url, args.accounts)
        codes = uniform_codes(args.accounts)
        print("\nSingle-entry transactions per second (2-4 postings, each one transaction: post_entry in run_in_transaction)", flush=True)
        print("  chain background: a sealer process (`loanbook seal --follow`) chains the queue while clients post")
        print("  chain commit:     each transaction returns once its events are sealed (the default without a sealer)")
        print("  chain off:        nothing is sealed while measured; the backlog is sealed afterwards", flush=True)
        tps: dict[tuple[str, bool, int], float] = {}
        pg: dict[int, float] = {}
        with contextlib.ExitStack() as stack:
            reference = None
            if not args.skip_pgbench:
                stack.enter_context(scratch_database(args.pg_url, f"{name}_pgbench", keep=args.keep_db))
                reference = Pgbench(args.pg_url, f"{name}_pgbench", args.pgbench_scale, args.duration)
            for clients in args.client_counts:
                # pgbench right before and right after this client count's cases: this shared machine
                # drifts by tens of percent over minutes, and the ratio should compare like with like.
                before = reference.tps(clients) if reference else nan
                print(f"  pgbench    clients={clients}: {before:8.0f} tps (before)", flush=True)
                for mode in args.modes:
                    for hot in (False, True):
                        vacuum(url)
                        got = entries_per_second(url, tenant_id, codes, clients=clients, hot=hot, mode=mode, duration=args.duration)
                        tps[(mode, hot, clients)] = got.rate
                        note = f"  (sealer chained {got.chained} events)" if mode == "background" else ""
                        print(f"  chain {mode:<10}  {'hot    ' if hot else 'uniform'}  clients={clients}: {got.rate:8.0f} entries/s"
                              f"   CPU/entry client {got.client_ms:.2f} ms, server {got.server_ms:.2f} ms{note}", flush=True)
                    if mode == "off":
                        sealed = seal_backlog(url, tenant_id)
                        print(f"  (sealed the chain-off backlog afterwards: {sealed} events)", flush=True)
                after = reference.tps(clients) if reference else nan
                print(f"  pgbench    clients={clients}: {after:8.0f} tps (after)", flush=True)
                pg[clients] = (before + after) / 2

        print(f"\npgbench -M prepared, tpcb-like, scale {args.pgbench_scale}, same server and duration (mean of before and after)")
        for clients in args.client_counts:
            print(f"  clients={clients}: {pg.get(clients, nan):8.0f} tps")

        print("\nRatios (entries/s over pgbench tps at the same client count; hot over uniform; chain mode over off)")
        print(f"  {'chain':<10}  {'clients':>7}  {'uniform/pg':>10}  {'hot/pg':>7}  {'hot/uniform':>11}  {'uniform/off':>11}  {'hot/off':>7}")
        for mode in args.modes:
            for clients in args.client_counts:
                u, h = tps.get((mode, False, clients), nan), tps.get((mode, True, clients), nan)
                uo, ho = tps.get(("off", False, clients), nan), tps.get(("off", True, clients), nan)
                pgc = pg.get(clients, nan)
                print(f"  {mode:<10}  {clients:>7}  {u / pgc:10.2f}  {h / pgc:7.2f}  {h / u:11.2f}  {u / uo:11.2f}  {h / ho:7.2f}")

        print(f"\nBulk: {args.bulk_entries}-entry batches, import_entries (binary COPY, one audit event per batch) in one transaction, sealed after commit;"
              f" an untimed {bulk_warmup_entries}-entry batch first (connection, chart)", flush=True)
        vacuum(url)
        bulk = bulk_postings_per_second(url, tenant_id, codes, args.bulk_entries, args.bulk_batches)
        for i, (n, s) in enumerate(bulk, start=1):
            print(f"  batch {i}: {n} postings in {s:.2f} s = {n / s:9.0f} postings/s ({args.bulk_entries / s:7.0f} entries/s)")
        bulk_rate = sum(n for n, _ in bulk) / sum(s for _, s in bulk) if bulk else nan  # --bulk-batches 0
        print(f"  overall: {bulk_rate:.0f} postings/s")

        verified = None
        if not args.no_verify:
            verified = timed("verify", lambda: verify_report(url))

        print(f"\nBalance as of a date (history over {asof_range_days} days, median of {args.asof_calls} calls at random dates)", flush=True)
        history = load_asof_history(url, tenant_id, args.asof_big_postings, args.asof_small_postings)
        print(f"  loaded {history.load_postings} postings ({receipts_per_entry} receipts per entry) through post_entries"
              f" in {history.load_seconds:.1f} s = {history.load_postings / history.load_seconds:.0f} postings/s (sealed)")
        big_n, small_n = count_postings(url, tenant_id, history.big), count_postings(url, tenant_id, history.small)
        big_ms = asof_latency_ms(url, tenant_id, history.big, args.asof_calls)
        small_ms = asof_latency_ms(url, tenant_id, history.small, args.asof_calls)
        print(f"  account {history.big} ({big_n} postings, {hot_slots} slots): {big_ms:.3f} ms")
        print(f"  account {history.small} ({small_n} postings, 1 slot):   {small_ms:.3f} ms")
        print(f"  ratio big/small: {big_ms / small_ms:.2f}")

        top = max(args.client_counts)
        checks = []
        for mode in [m for m in args.modes if m != "off"]:
            single = tps.get((mode, False, top), nan) / pg.get(top, nan)
            hot_ratio = min(tps.get((mode, True, c), nan) / tps.get((mode, False, c), nan) for c in args.client_counts)
            checks += [
                (f"single-entry >= {target_vs_pgbench}x pgbench at {top} clients (chain {mode}, uniform)",
                 f"{single:.2f}x ({tps.get((mode, False, top), nan):.0f} vs {pg.get(top, nan):.0f})", single >= target_vs_pgbench),
                (f"hot >= {target_hot_vs_uniform}x uniform (chain {mode}, worst client count)", f"{hot_ratio:.2f}x",
                 hot_ratio >= target_hot_vs_uniform),
            ]
        checks += [
            (f"bulk >= {target_bulk_postings_per_second} postings/s", f"{bulk_rate:.0f}", bulk_rate >= target_bulk_postings_per_second),
            (f"as-of < {target_asof_ms:g} ms", f"{max(big_ms, small_ms):.3f} ms", max(big_ms, small_ms) < target_asof_ms),
            (f"as-of 1M/1k ratio <= {target_asof_ratio:g}", f"{big_ms / small_ms:.2f}", big_ms / small_ms <= target_asof_ratio),
        ]
        if verified is not None:
            checks.append(("books verify clean after the throughput and bulk runs", verified[1], verified[0]))
        print("\nSummary")
        for label, figure, ok in checks:
            print(f"  {verdict(ok)}  {label}: {figure}")
    return 0 if all(ok for _, _, ok in checks) else 1


def verify_report(url: str) -> tuple[bool, str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        report = verify_books(conn)
    engine.dispose()
    summary = f"{report.entries} entries, {report.postings} postings, {report.chained_events} chained events"
    if not report.clean:
        summary += f"; {len(report.discrepancies)} discrepancies, first: {report.discrepancies[0]}"
    print(f"  verify: {summary}")
    return report.clean, summary


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
