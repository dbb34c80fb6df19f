"""The reliability suite: keyed repayments under faults, then proof that nothing was lost or doubled.

One private PostgreSQL cluster (reliability.cluster), a fault proxy in front of it
(reliability.proxy), `loanbook serve` talking to PostgreSQL through the proxy, and concurrent HTTP
clients repaying the same loans with keyed retries (reliability.load). Four phases, each
`phase_seconds` long, each with its fault:

  (a) close of business runs over HTTP meanwhile, closing business dates one by one;
  (b) the API server is killed with SIGKILL mid-load and started again;
  (c) PostgreSQL stops (immediate shutdown: crash recovery at the next start) and starts again;
  (d) the proxy delays every chunk, then cuts every connection between the API and PostgreSQL.

Afterwards, read directly from the database: every acknowledged repayment is stored exactly once,
nothing is stored that no client sent, every loan transaction has its journal entry, the trial
balance balances and `loanbook verify` is clean. Then `loanbook backup` and `loanbook restore` into a
fresh database on the same cluster must give the same trial balance and audit chain head.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ledger import queries
from ledger.digest import audit_digest
from ledger.sealing import seal_pending
from loanbook.cli import main as cli_main
from loanbook.db import make_engine
from loanbook.migrate import upgrade
from loans.pii import FieldCipher, key_from_text, new_key_text
from reliability.books import BookCheck, Books, check_books, disbursed_on, seed_books
from reliability.cluster import PrivateCluster, free_port
from reliability.load import ApiServer, Load, Tally, errors_line
from reliability.proxy import FaultProxy

proxy_delay_seconds = 0.03
proxy_cuts = 8


@dataclass(frozen=True)
class Scale:
    clients: int
    loans: int
    phase_seconds: float
    grace_seconds: float  # how long keys in flight at a phase's end keep being retried
    cob_dates: int
    postgres_down_seconds: float


full_scale = Scale(clients=12, loans=20, phase_seconds=30.0, grace_seconds=30.0, cob_dates=6, postgres_down_seconds=3.0)
small_scale = Scale(clients=4, loans=3, phase_seconds=3.0, grace_seconds=20.0, cob_dates=2, postgres_down_seconds=0.5)
phases = {
    "a": "(a) close of business meanwhile",
    "b": "(b) SIGKILL of the API server",
    "c": "(c) PostgreSQL restart",
    "d": "(d) proxy delays and cuts",
}


@dataclass
class Report:
    scale: Scale
    tallies: dict[str, Tally] = field(default_factory=dict)
    check: BookCheck | None = None
    events: list[str] = field(default_factory=list)
    verify_clean: bool = False
    verify_output: str = ""
    restored_same: bool = False
    restore_detail: str = ""
    server_starts: int = 0
    postgres_restarts: int = 0
    connections_cut: int = 0

    def figures(self, phase: str | None = None) -> Counter:
        """attempted, acknowledged, found, duplicated, lost, unacknowledged: of one phase, or of all."""
        assert self.check is not None
        figures: Counter = Counter()
        for key, status in self.check.status.items():
            if phase is None or key.split("-")[2] == phase:
                figures["attempted"] += 1
                figures[status] += 1
                figures["acknowledged"] += status != "unacknowledged"
        return figures

    @property
    def passed(self) -> bool:
        check = self.check
        return (check is not None and not check.problems and check.lost == 0 and check.duplicated == 0
                and check.unexpected == 0 and not any(t.refused for t in self.tallies.values())
                and all(self.figures(p)["found"] > 0 for p in self.tallies)
                and self.verify_clean and self.restored_same)


def run_suite(scale: Scale, out: Callable[[str], None] = print) -> Report:
    report = Report(scale)
    began = time.monotonic()
    with PrivateCluster() as cluster, tempfile.TemporaryDirectory(prefix="loanbook-reliability-run-") as tmp:
        workdir = Path(tmp)
        _create_database(cluster, "loanbook")
        direct_url = cluster.url("loanbook")
        key = new_key_text()
        engine = make_engine(direct_url, pool_size=2)
        cluster_ready = time.monotonic()
        upgrade(engine)
        migrated = time.monotonic()
        books = seed_books(engine, FieldCipher(key_from_text(key)), scale.loans)
        engine.dispose()
        report.events.append(f"setup: private cluster {cluster_ready - began:.1f} s, migrations {migrated - cluster_ready:.1f} s, "
                             f"{scale.loans} loans disbursed {time.monotonic() - migrated:.1f} s")
        with FaultProxy(cluster.port) as proxy:
            env = {**os.environ, "LOANBOOK_DATABASE_URL": cluster.url("loanbook", port=proxy.port),
                   "LOANBOOK_ENCRYPTION_KEY": key, "PYTHONUNBUFFERED": "1"}
            server = ApiServer(env, workdir, free_port())
            out(f"reliability: {scale.clients} clients, {scale.loans} loans, {scale.phase_seconds:g} s per phase; "
                f"private PostgreSQL ({cluster.bin.parent.name}) on port {cluster.port}, fault proxy on port {proxy.port}")
            server.start()
            load = Load(server.base_url, books.token, books.loan_ids, disbursed_on.isoformat())
            try:
                asyncio.run(_phases(scale, load, server, cluster, proxy, report, out))
            finally:
                server.stop()
            report.server_starts, report.connections_cut = server.starts, proxy.connections_cut
            report.events.append(f"proxy: {proxy.connections_relayed} connections relayed, {proxy.connections_cut} cut")
        engine = make_engine(direct_url, pool_size=2)
        try:
            report.check = check_books(engine, books, load.outcomes)
        finally:
            engine.dispose()
        _verify(report, direct_url, workdir)
        _backup_and_restore(report, cluster, books, direct_url, workdir)
    print_report(report, out)
    return report


def _create_database(cluster: PrivateCluster, name: str) -> None:
    admin = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


async def _phases(scale: Scale, load: Load, server: ApiServer, cluster: PrivateCluster, proxy: FaultProxy, report: Report,
                  out: Callable[[str], None]) -> None:
    seconds = scale.phase_seconds

    async def cob(tally: Tally) -> None:
        dates = [(disbursed_on + dt.timedelta(days=n)).isoformat() for n in range(scale.cob_dates)]
        await load.close_business_dates(dates, seconds, tally)
        report.events.append(f"close of business: {tally.cob_dates_closed} of {len(dates)} business dates closed under load")

    async def kill_server(tally: Tally) -> None:
        await asyncio.sleep(seconds / 3)
        began = time.monotonic()
        server.kill()
        await asyncio.to_thread(server.start)
        report.events.append(f"API server: SIGKILL, answering again {time.monotonic() - began:.1f} s later")

    async def restart_postgres(tally: Tally) -> None:
        await asyncio.sleep(seconds / 3)
        down = await asyncio.to_thread(cluster.restart, scale.postgres_down_seconds)
        report.postgres_restarts += 1
        report.events.append(f"PostgreSQL: immediate shutdown, accepting connections again {down:.1f} s later")

    async def faulty_network(tally: Tally) -> None:
        # Slow for the first half, then cut every connection at `proxy_cuts` moments through the phase,
        # so cuts land in queries, in COMMITs and in idle pooled connections alike.
        interval = seconds / (proxy_cuts + 1)
        cut = 0
        for n in range(proxy_cuts):
            proxy.delay_seconds = proxy_delay_seconds if n < proxy_cuts // 2 else 0.0
            await asyncio.sleep(interval)
            cut += proxy.cut()
        proxy.delay_seconds = 0.0
        report.events.append(f"proxy: {proxy_delay_seconds * 1000:g} ms per chunk for {interval * (proxy_cuts // 2):.1f} s, "
                             f"{cut} connections cut in {proxy_cuts} cuts")

    for phase, fault in (("a", cob), ("b", kill_server), ("c", restart_postgres), ("d", faulty_network)):
        tally = report.tallies[phase] = Tally()
        began = time.monotonic()
        await asyncio.gather(load.clients(scale.clients, phase, seconds, scale.grace_seconds, tally), fault(tally))
        out(f"  {phases[phase]}: {tally.requests} requests in {time.monotonic() - began:.1f} s; "
            f"errors: {errors_line(tally.errors)}")


def _cli(args: list[str], url: str, workdir: Path) -> subprocess.CompletedProcess:
    """`loanbook ARGS` against `url`, in this process (each CLI process would cost its seconds of imports)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    saved = os.environ.get("LOANBOOK_DATABASE_URL")
    os.environ["LOANBOOK_DATABASE_URL"] = url
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli_main(args)
    finally:
        if saved is None:
            del os.environ["LOANBOOK_DATABASE_URL"]
        else:
            os.environ["LOANBOOK_DATABASE_URL"] = saved
    return subprocess.CompletedProcess(["loanbook", *args], code, stdout.getvalue(), stderr.getvalue())


def _verify(report: Report, url: str, workdir: Path) -> None:
    done = _cli(["verify"], url, workdir)
    report.verify_clean = done.returncode == 0
    report.verify_output = (done.stdout + done.stderr).strip()


def _books_of(url: str, tenant_id: int) -> tuple[list[tuple], bool, str]:
    engine = make_engine(url, pool_size=1)
    try:
        seal_pending(engine, tenant_id)
        with engine.connect() as conn:
            tb = queries.trial_balance(conn, tenant_id)
            head = audit_digest(conn, tenant_id).text
        return [(l.account.code, l.currency, l.debit_minor, l.credit_minor) for l in tb.lines], tb.balanced, head
    finally:
        engine.dispose()


def _backup_and_restore(report: Report, cluster: PrivateCluster, books: Books, url: str, workdir: Path) -> None:
    backup = workdir / "books.backup"
    _create_database(cluster, "loanbook_restored")
    restored_url = cluster.url("loanbook_restored")
    for args in (["backup", "--output", str(backup), "--database-url", url], ["restore", str(backup), "--database-url", restored_url]):
        done = _cli(args, url, workdir)
        if done.returncode != 0:
            report.restore_detail = f"loanbook {args[0]} failed: {done.stderr.strip()}"
            return
    before, after = _books_of(url, books.tenant_id), _books_of(restored_url, books.tenant_id)
    restored_clean = _cli(["verify"], restored_url, workdir).returncode == 0
    report.restored_same = before == after and before[1] and restored_clean
    report.restore_detail = (f"{len(before[0])} trial balance lines, chain head {before[2][:24]}...: "
                             + ("the same after restore" if before == after else f"restored {after[2][:24]}... DIFFERS")
                             + f"; verify of the restored database {'clean' if restored_clean else 'NOT CLEAN'}")


def print_report(report: Report, out: Callable[[str], None] = print) -> None:
    assert report.check is not None
    columns = ("attempted", "acknowledged", "found", "duplicated", "lost", "unacknowledged")
    out("")
    out(f"{'phase':<36}" + "".join(f"{c:>15}" for c in columns) + "   errors by code")
    everything: Counter = Counter()
    for phase, tally in report.tallies.items():
        figures = report.figures(phase)
        everything.update(tally.errors)
        out(f"{phases[phase]:<36}" + "".join(f"{figures[c]:>15,}" for c in columns) + f"   {errors_line(tally.errors)}")
    total = report.figures()
    out(f"{'total':<36}" + "".join(f"{total[c]:>15,}" for c in columns) + f"   {errors_line(everything)}")
    check = report.check
    replays = sum(t.replays_confirmed for t in report.tallies.values())
    late = sum(t.first_answer_replayed for t in report.tallies.values())
    out(f"replays: {replays} keys sent again after their acknowledgement answered the same transaction (replayed: true); "
        f"{late} keys were first acknowledged as a replay (an earlier attempt was stored, its answer lost)")
    for event in report.events:
        out(event)
    refused = [r for t in report.tallies.values() for r in t.refused]
    out(f"refused (not retryable) answers: {len(refused)}" + (f", first: {refused[0]}" if refused else ""))
    out(f"stored although never acknowledged: {check.stored_unacknowledged}; stored under a key no client sent: {check.unexpected}")
    out(f"every acknowledged repayment stored exactly once, every loan transaction with its entry, trial balance balanced: "
        f"{'yes' if not check.problems else 'NO'}")
    for problem in check.problems[:20]:
        out(f"  PROBLEM: {problem}")
    out(f"loanbook verify: {'clean' if report.verify_clean else 'NOT CLEAN'}")
    if not report.verify_clean:
        out(report.verify_output[-3000:])
    out(f"backup and restore into a fresh database: {report.restore_detail}")
    out("PASS" if report.passed else "FAIL")
