"""`python -m tickstream split` (`make run-split`): one command starts the split layout
(a feed process and two web processes on Redis and PostgreSQL, the database created if
missing), shows each process's lines under its name, and SIGTERM stops every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.support import POSTGRES_URL, REDIS_URL, ROOT, free_port, http_json, reachable, wait_until

pytestmark = pytest.mark.redis


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "TICKSTREAM_", "DATABASE_URL", "REDIS_URL", "SIM_"))
    }
    return env | {
        "TICKSTREAM_DEVELOPMENT": "true",
        "TICKSTREAM_VAR_DIR": str(tmp_path),
        "SIM_BACKFILL_S": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def split_env(
    tmp_path: Path, kind: str, **extra: str
) -> tuple[str, str, list[int], dict[str, str]]:
    """For a split layout on the local PostgreSQL and Redis (skipped without them): a new
    database's name and URL (not created), two web ports, and the environment."""
    if not (reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 6379)):
        pytest.skip("needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    name = f"tickstream_{kind}_{uuid.uuid4().hex[:8]}"
    database = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    ports = [free_port(), free_port()]
    env = _env(
        tmp_path,
        DATABASE_URL=database,
        REDIS_URL=REDIS_URL,
        CHANNEL_PREFIX=f"{kind[:2]}{uuid.uuid4().hex[:6]}",
        WEB_PORTS=" ".join(map(str, ports)),
        **extra,
    )
    return name, database, ports, env


def launch_split(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m tickstream split` with `env`, its lines in `log`, at once."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tickstream", "split"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_split(env: dict[str, str], log: Path, ports: list[int]) -> subprocess.Popen[bytes]:
    """`launch_split`, returning once every web process serves the quotes the feed
    process computes."""
    proc = launch_split(env, log)
    try:
        for port in ports:
            wait_until(lambda p=port: http_json(f"http://127.0.0.1:{p}/api/quotes/")[1], timeout=90)
    except BaseException:
        proc.send_signal(signal.SIGTERM)  # the command stops its processes
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    return proc


def test_split_starts_the_layout_and_sigterm_stops_every_process(tmp_path: Path) -> None:
    name, database, ports, env = split_env(tmp_path, "split")  # the command creates it
    log = tmp_path / "split.log"
    try:
        proc = start_split(env, log, ports)
        try:
            children = _children(proc.pid)
            assert len(children) == 3, children  # the feed process and two web processes
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = proc.wait(30)
            stopped = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
        text = log.read_text()
        assert code == 0, text[-2000:]
        assert not [pid for pid in children if _alive(pid)], "every process stopped"
        assert f"created the database of {database}" in text
        assert "demo user: demo / demo-tickstream" in text
        assert "feeds     | feeds running" in text
        for port in ports:
            assert f"{f'web:{port}':<10}| " in text and f"http://127.0.0.1:{port}/" in text
        assert "Finished server process" in text and "market runtime stopped" in text
        print(f"\nsplit layout stopped cleanly {stopped:.1f}s after SIGTERM")
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_split_says_what_is_missing_and_how_to_install_it(tmp_path: Path) -> None:
    closed = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "tickstream", "split"],
        cwd=ROOT,
        env=_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{closed}/0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"Redis is not reachable at 127.0.0.1:{closed}" in result.stderr
    assert "apt-get install redis-server" in result.stderr
    if reachable("127.0.0.1", 6379):
        result = subprocess.run(
            [sys.executable, "-m", "tickstream", "split"],
            cwd=ROOT,
            env=_env(
                tmp_path,
                REDIS_URL=REDIS_URL,
                DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/tickstream",
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "PostgreSQL is not reachable" in result.stderr
        assert "apt-get install postgresql" in result.stderr


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
