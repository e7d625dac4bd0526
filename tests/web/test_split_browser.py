"""The split layout as a person starts it: `python -m tickstream split`, and the dashboard
opened the moment the web process answers, while the feed process is still back-filling.
Its subscriptions are answered `unavailable` at first; the page must go live by itself,
without a reload (it stayed dead before). In the same layout, a token rotated through one
web process signs out a program's socket on the other (revocation crosses processes)."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest
import websockets.sync.client

from tests.support import POSTGRES_URL, http_json, wait_until
from tests.test_split import launch_split, split_env
from tests.web.conftest import DESKTOP, NEEDS_CHROMIUM, SHOTS, sign_in_demo

pytestmark = [*NEEDS_CHROMIUM, pytest.mark.redis]


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def test_a_dashboard_opened_while_the_split_layout_starts_goes_live(
    browser: Any, tmp_path: Path
) -> None:
    # Two hours of history to back-fill: the feed process answers well after the web ones.
    name, _, ports, env = split_env(tmp_path, "splitweb", SIM_BACKFILL_S="7200", SIM_RATE="60")
    log = tmp_path / "split.log"
    proc = launch_split(env, log)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        one, two = (f"http://127.0.0.1:{port}" for port in ports)
        wait_until(lambda: _answers(f"{one}/accounts/login/"), timeout=90, interval=0.05)
        page.goto(f"{one}/")  # at once, as a person would
        page.wait_for_function(
            "document.getElementById('connection-state').dataset.state === 'live'",
            timeout=30_000,
        )
        # It went live by itself: the chart and the watchlist fill, and move.
        page.wait_for_function(
            "Number(document.getElementById('chart').dataset.liveUpdates) >= 2",
            timeout=120_000,
        )
        cells = "[...document.querySelectorAll('#watchlist tr[data-symbol] [data-field=last]')]"
        page.wait_for_function(f"{cells}.slice(0, 3).every(c => c.textContent !== '–')")
        # And its history: read again once the pipeline served (two hours were back-filled;
        # the page had read an empty history while the feed process was busy).
        page.wait_for_function(
            "Number(document.getElementById('chart').dataset.candles) >= 60", timeout=30_000
        )
        stats = page.evaluate("window.tickstreamClient.stats")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "split-dashboard-opened-at-start.png"))
        # The scenario happened: the pipeline was not ready when the page asked.
        assert stats["unavailable"] >= 1, stats
        assert errors == []

        # A program's socket on the second web process, with the demo user's token.
        status, token = http_json(
            f"{two}/api/auth/token/", data={"username": "demo", "password": "demo-tickstream"}
        )
        assert status == 200, token
        url = f"ws://127.0.0.1:{ports[1]}/ws/v1/?token={token['token']}"
        with websockets.sync.client.connect(url, open_timeout=10) as program:
            welcome = json.loads(program.recv(timeout=5))
            welcome = welcome[0] if isinstance(welcome, list) else welcome
            assert welcome["type"] == "welcome" and welcome["user"] is not None
            # The token rotated on the first web process, in the browser.
            sign_in_demo(page, one, "/accounts/token/")
            page.wait_for_selector("#api-token")
            page.click("text=Rotate the token")
            page.wait_for_selector("text=the old one no longer works")
            frames = []
            try:
                while True:
                    frames.append(json.loads(program.recv(timeout=10)))
            except websockets.ConnectionClosed:
                pass
            code = program.close_code
        assert code == 4401, (code, frames[-3:])
        told = [m for f in frames for m in (f if isinstance(f, list) else [f])]
        assert any(m.get("code") == "signed_out" for m in told)
    finally:
        context.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"\nsplit dashboard went live by itself; {stats['unavailable']} refusals retried")
