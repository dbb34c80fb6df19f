"""A private PostgreSQL cluster in a temporary directory: initdb, its own port, pg_ctl.

The suite restarts PostgreSQL under load; that must never be the machine's shared server. This
cluster lives in a directory of its own, listens on 127.0.0.1 on a free port and a Unix socket in
that directory, trusts local connections, and is removed with its directory at the end. PostgreSQL
refuses to run as root: when the suite runs as root, the cluster's programs run as the `postgres`
system user, which then owns the directory.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

postgresql_bin_root = Path("/usr/lib/postgresql")
unprivileged_user = "postgres"
start_seconds_max = 60
# Small settings for a throwaway cluster on a shared machine; durability settings stay at their
# defaults, so an acknowledged commit survives an immediate shutdown as it would in production.
server_options = ("-c listen_addresses=127.0.0.1 -c max_connections=60 -c shared_buffers=32MB "
                  "-c log_min_messages=warning -c log_connections=off")


class ClusterUnavailable(Exception):
    """initdb (or a user to run it as) is missing: the suite cannot make a private cluster here."""


def postgresql_bin() -> Path:
    """The directory of the newest installed PostgreSQL server programs."""
    found = sorted((p for p in postgresql_bin_root.glob("*/bin") if (p / "initdb").exists() and p.parent.name.isdigit()),
                   key=lambda p: int(p.parent.name))
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise ClusterUnavailable(f"initdb was not found (under {postgresql_bin_root}/*/bin or on PATH)")
    return Path(initdb).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateCluster:
    """`with PrivateCluster() as cluster:` a running cluster; `cluster.url(db)` is a SQLAlchemy URL on it."""

    def __init__(self) -> None:
        self.bin, self.user = self.check_available()
        self.dir = Path(tempfile.mkdtemp(prefix="loanbook-reliability-"))
        self.data, self.log = self.dir / "data", self.dir / "postgresql.log"
        self.port = free_port()
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)

    @staticmethod
    def check_available() -> tuple[Path, pwd.struct_passwd | None]:
        """The server programs' directory and the user to run them as (None: this one); ClusterUnavailable if none."""
        bin_dir = postgresql_bin()
        if os.geteuid() != 0:
            return bin_dir, None
        try:
            return bin_dir, pwd.getpwnam(unprivileged_user)
        except KeyError:
            raise ClusterUnavailable(f"running as root and there is no {unprivileged_user!r} user to run PostgreSQL as") from None

    def url(self, database: str = "postgres", port: int | None = None) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port or self.port}/{database}"

    def _run(self, *args: str, timeout: float = start_seconds_max) -> None:
        kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []} if self.user else {}
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.dir, capture_output=True, text=True,
                              timeout=timeout, **kwargs)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} exited with {done.returncode}: {done.stderr.strip()[-2000:]}\n{log}")

    def __enter__(self) -> PrivateCluster:
        try:
            self._run("initdb", "--pgdata", str(self.data), "--username", "postgres", "--auth", "trust",
                      "--encoding", "UTF8", "--locale", "C", "--no-sync")
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} {server_options}"
        self._run("pg_ctl", "--pgdata", str(self.data), "--log", str(self.log), "--options", options, "--wait",
                  f"--timeout={start_seconds_max}", "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash as far as the server goes: no checkpoint, recovery from WAL at the next start."""
        self._run("pg_ctl", "--pgdata", str(self.data), "--mode", mode, "--wait", f"--timeout={start_seconds_max}", "stop")

    def restart(self, down_seconds: float, mode: str = "immediate") -> float:
        """Stop, stay down `down_seconds`, start again; returns the seconds it was unreachable."""
        began = time.monotonic()
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()
        return time.monotonic() - began

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
