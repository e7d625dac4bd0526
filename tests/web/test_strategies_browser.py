"""Strategies in a real Chromium against a real server with the simulated market: a
backtest stored from the command line for the demo user opens as a report (every figure,
the equity and drawdown charts, the price with the fills marked, the fills); a hosted
market maker is added, started (the server runs it on the demo's paper account) and
stopped from /strategies/, and its run is stored. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import ROOT, dev_env
from tests.web.conftest import NEEDS_CHROMIUM, PHONE, SHOTS, sign_in_demo

pytestmark = NEEDS_CHROMIUM
DATA = ROOT / "tests" / "fixtures" / "mplfinance" / "yahoofinance-AAPL-20040819-20180120.csv"
EXAMPLE = ROOT / "tickstream" / "strategy" / "examples" / "sma_crossover.py"


def _store_backtest(var: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "tickstream", "strategy", "backtest", str(EXAMPLE),
         "--data", str(DATA), "--symbol", "AAPL", "--param", "fast=10", "--param", "slow=30",
         "--save", "--owner", "demo"],
        env={**dev_env(var), "PATH": "/usr/bin:/bin"}, cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = re.search(r"stored as run (\d+)", done.stdout)
    assert found, done.stdout
    return int(found.group(1))


def test_a_stored_backtest_opens_as_a_report(served: tuple[str, Path], page: Any) -> None:
    server, var = served
    run = _store_backtest(var)
    sign_in_demo(page, server, "/strategies/")
    page.click(f'a[href="/strategies/runs/{run}/"]')
    page.wait_for_url(f"{server}/strategies/runs/{run}/")
    page.wait_for_function(
        "() => Number(document.getElementById('price-chart').dataset.markers) > 20"
        " && Number(document.getElementById('equity-chart').dataset.points) > 100",
        timeout=20_000,
    )
    figures = {
        row.query_selector("th").inner_text(): row.query_selector("td").inner_text()
        for row in page.query_selector_all("#figures tr")
    }
    assert figures["Start"] == "100,000.00" and figures["Total return"].endswith("%")
    assert re.fullmatch(r"-?\d+\.\d\d", figures["Sharpe"]), figures
    assert len(page.query_selector_all("#fills tbody tr")) == int(figures["Fills"]) >= 20
    canvases = page.query_selector_all(".report-chart canvas")
    assert len(canvases) >= 3
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "strategy-report-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / "strategy-report-phone.png"))
    assert page.errors == []


def test_a_hosted_strategy_is_started_and_stopped_from_the_page(server: str, page: Any) -> None:
    sign_in_demo(page, server, "/strategies/")
    form = "#hosted-form"
    page.fill(f"{form} input[name=name]", "maker")
    page.select_option(f"{form} select[name=source]", "market_maker")
    page.select_option(f"{form} select[name=symbol]", "BTC-USD")
    page.fill(f"{form} input[name=params]", "size=0.001 spread=2 requote=50 max_position=0.002")
    page.click(f"{form} button[type=submit]")
    row = "#hosted tbody tr"
    page.wait_for_selector(f"{row} >> text=maker")
    page.click(f"{row} button:has-text('Start')")
    page.wait_for_selector(f"{row} td.up:has-text('running')", timeout=20_000)
    # It quotes: its bid rests on the demo's paper account (its client order ids end -s1,
    # -s2...: none of the other tests' orders), and shows on /trading/.
    page.wait_for_function(
        "async () => (await (await fetch('/api/trading/orders/?status=open')).json())"
        ".some(o => o.symbol === 'BTC-USD' && /-s\\d+$/.test(o.client_order_id || ''))",
        timeout=20_000,
        polling=500,
    )
    page.goto(f"{server}/trading/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#open-orders tbody tr')]"
        ".some(r => r.textContent.includes('BTC-USD'))",
        timeout=20_000,
    )
    page.goto(f"{server}/strategies/")
    page.wait_for_selector(f"{row} >> text=running")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "strategies-hosted-desktop.png"), full_page=True)
    page.click(f"{row} button:has-text('Stop')")
    page.wait_for_selector(f"{row} td:has-text('stopped')", timeout=20_000)
    link = page.wait_for_selector(f"{row} a[href^='/strategies/runs/']")
    link.click()
    page.wait_for_selector("#figures")
    assert "MarketMaker on BTC-USD" in page.inner_text("h1")
    assert page.errors == []
