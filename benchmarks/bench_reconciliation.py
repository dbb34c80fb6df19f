"""Bank reconciliation at scale: generated camt.053 statements imported and auto-reconciled on PostgreSQL.

For each size (default 1k, 10k, 100k; pass --sizes 1000,10000,100000,1000000 for the full run) it books
that many postings to the bank account (through ledger.service.import_entries), writes the noisy
statement the bank would send for them (reconciliation.synthetic: shifted dates, lines without
references, batches, splits, fees, items in transit, strangers' transfers), then times
`import_statement` and `auto_reconcile` and checks the matches against the generator's truth.

Prints, per size: import seconds, auto-reconcile seconds (wall clock), the CPU seconds this process
spent on both and those the database's server processes spent meanwhile (read from /proc for a local
server; n/a otherwise): on a shared machine wall time varies with the load, CPU time much less.
Then lines per second end to end, wrong matches (each printed with the truth it missed),
and the share of matchable lines matched automatically; then the per-line time ratio of the largest
size to 10k. Targets: 100k end to end < 10 s; per line at 1M within 1.5x of 10k; 0 wrong matches;
>= 99 % matched. Creates its own database (`loanbook_bench_rec_<random>`) and drops it afterwards.
"""
from __future__ import annotations

import argparse
import os
import datetime as dt
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from ledger import service as ledger  # noqa: E402
from ledger.actor import Actor  # noqa: E402
from ledger.model import EntryDraft, Posting  # noqa: E402
from ledger.unit_of_work import run_in_transaction  # noqa: E402
from loanbook.db import make_engine, scratch_database  # noqa: E402
from loanbook.migrate import upgrade  # noqa: E402
from reconciliation import importing, reconciling  # noqa: E402
from reconciliation.synthetic import Generated, generate  # noqa: E402


def camt053(generated: Generated) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
             "<BkToCstmrStmt><Stmt><Id>BENCH</Id><Acct><Id><IBAN>CN01</IBAN></Id><Ccy>CNY</Ccy></Acct>"]
    lines = sorted(generated.lines, key=lambda line: line.day)
    total = sum(line.amount_minor for line in lines)
    for code, minor, day in (("OPBD", 0, lines[0].day), ("CLBD", total, lines[-1].day)):
        parts.append(f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{abs(minor) / 100:.2f}</Amt>'
                     f"<CdtDbtInd>{'CRDT' if minor >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")
    for line in lines:
        minor = abs(line.amount_minor)
        party = "Dbtr" if line.amount_minor > 0 else "Cdtr"
        refs = f"<Refs><EndToEndId>{line.end_to_end_id}</EndToEndId></Refs>" if line.end_to_end_id else ""
        name = f"<RltdPties><{party}><Nm>{line.name}</Nm></{party}></RltdPties>" if line.name else ""
        parts.append(
            f'<Ntry><Amt Ccy="CNY">{minor // 100}.{minor % 100:02d}</Amt><CdtDbtInd>{"CRDT" if line.amount_minor > 0 else "DBIT"}'
            f"</CdtDbtInd><BookgDt><Dt>{line.day}</Dt></BookgDt><AcctSvcrRef>{line.reference}</AcctSvcrRef>"
            f"<NtryDtls><TxDtls>{refs}{name}<RmtInf><Ustrd>{line.remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        )
    parts.append("</Stmt></BkToCstmrStmt></Document>")
    return "".join(parts).encode()


def run(engine: sa.Engine, size: int) -> dict:
    now = dt.datetime.now(dt.timezone.utc)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    tenant_id = run_in_transaction(engine, lambda c: ledger.create_tenant(c, slug, slug, actor_name="bench", now=now))
    actor = Actor(tenant_id, "bench", now)
    generated = generate(size, seed=size)
    drafts = [EntryDraft(p.day, (Posting("1100", "CNY", p.amount_minor), Posting("3100", "CNY", -p.amount_minor)), "generated",
                         {}, idempotency_key=p.key) for p in generated.postings]
    for start in range(0, len(drafts), ledger.entries_per_batch_max):
        batch = drafts[start:start + ledger.entries_per_batch_max]
        run_in_transaction(engine, lambda c, batch=batch: ledger.import_entries(c, actor, batch))
    content = camt053(generated)
    through = max(line.day for line in generated.lines)
    server_began = server_cpu(engine)
    began, cpu_began = time.perf_counter(), time.process_time()
    run_in_transaction(engine, lambda c: importing.import_statement(c, actor, "1100", content, fmt="camt053"))
    imported = time.perf_counter()
    done = run_in_transaction(engine, lambda c: reconciling.auto_reconcile(c, actor, "1100", through, book_loans=False))
    finished, cpu = time.perf_counter(), time.process_time() - cpu_began
    server = server_cpu(engine)
    server_s = None if server is None or server_began is None else sum(
        used - server_began.get(pid, 0.0) for pid, used in server.items())
    wrong, matched_matchable = truth_check(engine, tenant_id, generated)
    matchable = sum(1 for keys in generated.truth.values() if keys)
    return {"size": size, "lines": len(generated.lines), "import_s": imported - began, "reconcile_s": finished - imported,
            "cpu_s": cpu, "server_s": server_s, "matched": done.matched, "proposed": done.proposed, "wrong": wrong,
            "matched_share": matched_matchable / matchable if matchable else 1.0}


def server_cpu(engine: sa.Engine) -> dict[int, float] | None:
    """CPU seconds used so far by each server process of this database, from /proc (a server on this
    machine, readable by this user); None where that cannot be read."""
    with engine.connect() as conn:
        pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return used


def truth_check(engine: sa.Engine, tenant_id: int, generated: Generated) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT l.bank_reference, j.idempotency_key FROM reconciliation_matched_lines ml "
            "JOIN bank_statement_lines l ON l.tenant_id = ml.tenant_id AND l.id = ml.line_id "
            "JOIN reconciliation_matched_postings mp ON mp.tenant_id = ml.tenant_id AND mp.match_id = ml.match_id "
            "JOIN journal_entries j ON j.tenant_id = mp.tenant_id AND j.id = mp.entry_id WHERE ml.tenant_id = :t"),
            {"t": tenant_id}).all()
    found: dict[str, set[str]] = defaultdict(set)
    for reference, key in rows:
        found[reference].add(key)
    wrong = sum(1 for reference, keys in found.items() if not keys <= generated.truth[reference])
    for reference, keys in found.items():
        if not keys <= generated.truth[reference]:
            print(f"  wrong match: bank line {reference} matched to {sorted(keys)}, truth {sorted(generated.truth[reference])}",
                  flush=True)
    right = sum(1 for reference, keys in found.items() if keys <= generated.truth[reference] and generated.truth[reference])
    return wrong, right


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with scratch_database(args.pg_url, f"loanbook_bench_rec_{uuid.uuid4().hex[:8]}") as url:
        engine = make_engine(url)
        upgrade(engine)
        print(f"{'postings':>9} {'lines':>9} {'import s':>9} {'match s':>9} {'cpu s':>7} {'db cpu s':>8} {'lines/s':>9} "
              f"{'matched':>8} {'proposed':>8} "
              f"{'wrong':>6} {'matched %':>9}")
        for size in sizes:
            r = run(engine, size)
            results.append(r)
            total = r["import_s"] + r["reconcile_s"]
            server = "n/a" if r["server_s"] is None else f"{r['server_s']:.2f}"
            print(f"{r['size']:>9} {r['lines']:>9} {r['import_s']:>9.2f} {r['reconcile_s']:>9.2f} {r['cpu_s']:>7.2f} {server:>8} "
                  f"{r['lines'] / total:>9.0f} "
                  f"{r['matched']:>8} {r['proposed']:>8} {r['wrong']:>6} {100 * r['matched_share']:>8.2f}%", flush=True)
        engine.dispose()
    by_size = {r["size"]: r for r in results}
    if 10_000 in by_size and max(by_size) > 10_000:
        def per_line(r: dict) -> float:
            return (r["import_s"] + r["reconcile_s"]) / r["lines"]
        print(f"per-line time at {max(by_size)} / at 10000: {per_line(by_size[max(by_size)]) / per_line(by_size[10_000]):.2f}x "
              "(target <= 1.5x at 1M)")
    if 100_000 in by_size:
        r = by_size[100_000]
        print(f"100k end to end: {r['import_s'] + r['reconcile_s']:.2f} s (target < 10 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
