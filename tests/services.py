"""Throwaway Redis and PostgreSQL servers for fault tests: each on a spare loopback port
with its data in a temporary folder, so a test may kill and restart them without touching
the machine's own services. Both stop (and their folders go) when the block ends, however
it ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import free_port, reachable


def _pg_bin() -> Path:
    """The newest PostgreSQL server's binaries (Debian keeps them off the PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def _wait_port(port: int, up: bool, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reachable("127.0.0.1", port) == up:
            return
        time.sleep(0.05)
    raise RuntimeError(f"127.0.0.1:{port} did not go {'up' if up else 'down'} in {timeout}s")


class Redis:
    """`redis-server` keeping nothing on disk: a restart comes back empty, as the
    machine's Redis does."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        with (self.folder / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        _wait_port(self.port, up=True)

    def kill(self) -> None:
        """Gone at once, as a crash (SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        _wait_port(self.port, up=False)


class Postgres:
    """A PostgreSQL cluster of its own (initdb), run as the `postgres` user when the tests
    run as root (the server refuses root)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/tickstream"

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "tickstream")  # fmt: skip

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "pg.log"), "-w", "start")  # fmt: skip
        _wait_port(self.port, up=True)

    def stop(self, mode: str = "immediate") -> None:
        """Down (`immediate`: no shutdown checkpoint, as a crash; open connections break)."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        _wait_port(self.port, up=False)

    def kill_all(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


def available() -> str | None:
    """Why throwaway servers cannot run here, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian package redis-server)"
    if not (PG_BIN / "initdb").exists():
        return f"the PostgreSQL server binaries are not in {PG_BIN} (Debian package postgresql)"
    return None


@contextmanager
def throwaway() -> Iterator[tuple[Redis, Postgres]]:
    """A Redis and a PostgreSQL (database `tickstream`) of the block's own."""
    folder = Path(tempfile.mkdtemp(prefix="tickstream-faults-", dir="/tmp"))
    folder.chmod(0o777)  # the postgres user writes its socket and log here
    redis, postgres = Redis(folder), Postgres(folder)
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    try:
        redis.start()
        postgres.init()
        yield redis, postgres
    finally:
        redis.kill()
        try:
            postgres.stop("immediate")
        except Exception:
            postgres.kill_all()
        shutil.rmtree(folder, ignore_errors=True)
