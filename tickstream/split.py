"""`python -m tickstream split` (`make run-split`): the layout past one process, on one
machine. It prepares the database once (migrations, instruments, and the demo user in
development mode), then runs one feed process (`manage.py runfeeds`) and a web process per
port of `WEB_PORTS` (default `8001 8002`), all on `REDIS_URL` and `DATABASE_URL`. Each
process's output is shown with its name in front; Ctrl-C or SIGTERM stops them all
cleanly (SIGINT to each, then SIGKILL for any still running after `STOP_TIMEOUT_S`), and
so does one of them ending by itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tickstream"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
STOP_TIMEOUT_S = 20.0


class SplitError(Exception):
    """What keeps the split layout from starting, said to the user as it is."""


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _require(server: str, setting: str, url: str, port: int, package: str) -> None:
    """Refuse to start, saying how to get `server`, if nothing answers where `url` says."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or port
    if not _reachable(host, port):
        raise SplitError(
            f"{server} is not reachable at {host}:{port} ({setting}={url}).\n"
            f"  Install and start it: sudo apt-get install {package} "
            f"(or set {setting} to a running one)."
        )


def check_redis(url: str) -> None:
    _require("Redis", "REDIS_URL", url, 6379, "redis-server")


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names if it is missing; True if created."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SplitError(f"DATABASE_URL must name a PostgreSQL database (got {parts.scheme!r})")
    _require("PostgreSQL", "DATABASE_URL", url, 5432, "postgresql")
    name = parts.path.lstrip("/") or "tickstream"
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if found:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    except psycopg.Error as exc:
        raise SplitError(f"cannot prepare the database {name!r}: {exc}".strip()) from None


class Supervisor:
    """Child processes with their output prefixed, stopped together."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = threading.Event()
        self._print = threading.Lock()

    def say(self, name: str, line: str) -> None:
        with self._print:
            sys.stdout.write(f"{name:<10}| {line}\n")
            sys.stdout.flush()

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        # A session of its own: a terminal's Ctrl-C reaches the children only through
        # this supervisor (one SIGINT each: a second would make uvicorn quit at once).
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and commands
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children.append((name, proc))
        threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        for raw in proc.stdout or ():
            self.say(name, raw.decode(errors="replace").rstrip())

    def wait(self) -> int:
        """Until a stop is asked for or a child ends; then stop every child."""
        code = 0
        while not self.stopping.is_set():
            for name, proc in self.children:
                if proc.poll() is not None:
                    self.say("split", f"{name} ended (exit code {proc.returncode}): stopping all")
                    code = proc.returncode or 1
                    self.stopping.set()
                    break
            self.stopping.wait(0.2)
        self.stop()
        return code

    def stop(self) -> None:
        for _, proc in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for name, proc in self.children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("split", f"{name} did not stop in {STOP_TIMEOUT_S:g}s: killed")
                proc.kill()
                proc.wait(5)


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env["FEEDS_MODE"] = "external"
    env["PYTHONUNBUFFERED"] = "1"
    host = env.get("HOST", "127.0.0.1")
    ports = env.get("WEB_PORTS", "8001 8002").split()
    if argv or not ports or not all(p.isdigit() for p in ports):
        sys.stderr.write(
            "usage: [WEB_PORTS='8001 8002'] [DATABASE_URL=...] [REDIS_URL=...] "
            "python -m tickstream split\n"
        )
        return 2
    try:
        check_redis(env["REDIS_URL"])
        if ensure_database(env["DATABASE_URL"]):
            print(f"split     | created the database of {env['DATABASE_URL']}", flush=True)
    except SplitError as exc:
        sys.stderr.write(f"tickstream split: {exc}\n")
        return 2
    python = sys.executable
    development = env.get("TICKSTREAM_DEVELOPMENT", "").lower() in ("1", "true", "yes")
    prepare = [[python, "manage.py", "migrate", "--verbosity", "0"]]
    if development:
        prepare += [[python, "manage.py", "setup_demo"], [python, "manage.py", "setup_demo_data"]]
    else:
        prepare += [[python, "manage.py", "load_instruments"]]
    for args in prepare:
        done = subprocess.run(args, cwd=ROOT, env=env, check=False)  # noqa: S603 - as above
        if done.returncode != 0:
            sys.stderr.write(f"tickstream split: {' '.join(args[1:])} failed\n")
            return done.returncode
    supervisor = Supervisor()

    def stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    supervisor.start("feeds", [python, "manage.py", "runfeeds"], env)
    for port in ports:
        args = [python, "-m", "tickstream", "run", "--no-prepare", "--host", host]
        supervisor.start(f"web:{port}", [*args, "--port", port], env)
    urls = "  ".join(f"http://{host}:{port}/" for port in ports)
    supervisor.say("split", f"web processes at {urls}")
    supervisor.say("split", f"Redis {env['REDIS_URL']}, PostgreSQL {env['DATABASE_URL']}")
    if development:
        supervisor.say("split", "demo user: demo / demo-tickstream (development mode)")
    supervisor.say("split", "Ctrl-C stops every process")
    return supervisor.wait()
