"""Runs close of business jobs on background threads of the server process, off the request.

One runner per app (built in `create_app`, stopped by the app's lifespan). A run's thread executes
`loans.cob_runs.execute_run`; a request that wants to wait awaits the run's future when this process
runs it, else polls the table (the run may belong to another server process). Stopping asks each
running job to stop after its current batch (committed batches stay; the date resumes on the next run).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.engine import Engine

from graphql_api.core.threads import read
from loans import cob_runs
from loans.cob_runs import CobRun

log = logging.getLogger(__name__)

# Runs of different tenants proceed side by side; a tenant never has two (loans.cob_runs).
threads_max = 2
poll_seconds_max = 1.0


class CobRunner:
    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime], *, threads: int = threads_max) -> None:
        self.engine = engine
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cob-run")
        self._futures: dict[uuid.UUID, Future[CobRun]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, run: CobRun, through: dt.date | None = None) -> None:
        """Execute a QUEUED run in the background; with `through`, then every following date through it."""
        with self._lock:
            if self._stopping.is_set():
                return  # the run stays QUEUED; its heartbeat goes stale and the next request supersedes it
            future = self._executor.submit(self._execute, run.tenant_id, run.id, through)
            self._futures[run.id] = future
        future.add_done_callback(lambda _: self._forget(run.id))

    async def wait(self, run: CobRun) -> CobRun:
        """The run once it has finished (SUCCEEDED or FAILED)."""
        with self._lock:
            future = self._futures.get(run.id)
        if future is not None:
            return await asyncio.wrap_future(future)
        delay = 0.05
        while not run.finished:
            await asyncio.sleep(delay)
            delay = min(delay * 2, poll_seconds_max)
            found = await read(self.engine, cob_runs.get_run, run.tenant_id, run.id)
            assert found is not None, "runs are never deleted"
            run = found
        return run

    def stop(self) -> None:
        """Ask running jobs to stop after their current batch; do not wait for them."""
        with self._lock:
            self._stopping.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _execute(self, tenant_id: int, run_id: uuid.UUID, through: dt.date | None) -> CobRun:
        if through is not None:
            return cob_runs.execute_through(
                self.engine, tenant_id, run_id, through, clock=self.clock, should_stop=self._stopping.is_set,
            )
        return cob_runs.execute_run(self.engine, tenant_id, run_id, clock=self.clock, should_stop=self._stopping.is_set)

    def _forget(self, run_id: uuid.UUID) -> None:
        with self._lock:
            self._futures.pop(run_id, None)
