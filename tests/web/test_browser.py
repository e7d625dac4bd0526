"""The pages in a real headless Chromium against a real server with the simulated market.

Screenshots of every page are `make screenshots` (tests/web/screenshots.py).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tests.support import dev_env, free_port, process, server_args
from tests.web.conftest import DESKTOP, NEEDS_CHROMIUM, SHOTS, server_env, wait_ready

pytestmark = NEEDS_CHROMIUM


def dataset(page: Any, selector: str) -> dict[str, str]:
    return page.eval_on_selector(selector, "e => ({...e.dataset})")  # type: ignore[no-any-return]


def test_dashboard_chart_goes_live_and_switches_interval(server: str, page: Any) -> None:
    page.goto(f"{server}/")
    page.wait_for_function(
        "Number(document.getElementById('chart').dataset.candles) > 30", timeout=20_000
    )
    chart = dataset(page, "#chart")
    assert chart["symbol"] == "AAPL" and chart["interval"] == "1m"
    # Live candle updates arrive over the stream.
    page.wait_for_function(
        "Number(document.getElementById('chart').dataset.liveUpdates) >= 3", timeout=20_000
    )
    assert page.inner_text("#connection-state") == "live"
    assert page.inner_text("#chart-last") != "–"
    # The feeds' status line: the simulated market, live; no row marked stale.
    page.wait_for_selector("#feeds-status .feed[data-state='live']", timeout=10_000)
    assert page.inner_text("#feeds-status").strip() == "sim live"
    assert page.query_selector_all("#watchlist tr.stale") == []
    # The legend shows the indicators computed on the server (SMA and RSI by default).
    assert "SMA" in page.inner_text("#legend") and "RSI" in page.inner_text("#legend")

    page.click("#intervals button[data-interval='5m']")
    page.wait_for_function(
        "document.getElementById('chart').dataset.interval === '5m'"
        " && Number(document.getElementById('chart').dataset.candles) > 5",
        timeout=20_000,
    )
    assert int(dataset(page, "#chart")["lastTime"]) % 300 == 0  # 5-minute buckets
    assert "interval=5m" in page.url  # the address keeps the view

    page.click("#intervals button[data-interval='1s']")
    page.wait_for_function(
        "document.getElementById('chart').dataset.interval === '1s'"
        " && Number(document.getElementById('chart').dataset.liveUpdates) >= 3",
        timeout=20_000,
    )
    first = int(dataset(page, "#chart")["lastTime"])
    page.wait_for_function(
        f"Number(document.getElementById('chart').dataset.lastTime) > {first}", timeout=20_000
    )

    # Another symbol from the search box, and an indicator pane switched on.
    page.fill("#symbol-search", "bitcoin")
    page.press("#symbol-search", "Enter")
    page.wait_for_function(
        "document.getElementById('chart').dataset.symbol === 'BTC-USD'"
        " && Number(document.getElementById('chart').dataset.candles) > 0",
        timeout=20_000,
    )
    page.check("#indicators input[value='macd']")
    page.wait_for_function(
        "document.getElementById('legend').textContent.includes('MACD')", timeout=20_000
    )
    assert page.errors == []


def test_watchlist_prices_update_in_place(server: str, page: Any) -> None:
    page.goto(f"{server}/")
    # The rows on screen (the page draws only those; a row scrolled into view is drawn then).
    rows = (
        "(() => { const box = document.querySelector('.watchlist-scroll')"
        ".getBoundingClientRect();"
        " return [...document.querySelectorAll('#watchlist tr[data-symbol]')]"
        ".filter(r => { const b = r.getBoundingClientRect();"
        " return b.height && b.bottom > box.top && b.top < box.bottom; }); })()"
    )
    cells = f"{rows}.map(r => r.querySelector('[data-field=last]'))"
    page.wait_for_function(f"{cells}.every(c => c.textContent !== '–')", timeout=20_000)
    before = page.evaluate(f"{cells}.map(c => c.textContent)")
    page.wait_for_function(
        f"{cells}.filter((c, i) => c.textContent !== {before!r}[i]).length >= 5",
        timeout=20_000,
    )
    # Up and down are told by an arrow and a sign, not by colour alone.
    changes = page.evaluate(f"{rows}.map(r => r.querySelector('[data-field=change]').textContent)")
    assert all(c[0] in "▲▼■" for c in changes), changes[:5]
    assert page.errors == []


def test_ticker_tape_moves_and_updates(server: str, page: Any) -> None:
    page.goto(f"{server}/ticker/")
    page.wait_for_function(
        "Number(document.getElementById('tape-track').dataset.updates) > 20", timeout=20_000
    )
    position = (
        "new DOMMatrix(getComputedStyle(document.getElementById('tape-track')).transform).m41"
    )
    x0 = page.evaluate(position)
    time.sleep(1)
    assert page.evaluate(position) < x0  # scrolling left
    prices = page.evaluate(
        "[...document.querySelectorAll('#quote-grid .price')].map(p => p.textContent)"
    )
    assert prices and all(p != "–" for p in prices)
    assert page.errors == []


def test_the_tutorials_pages_update_their_ids(server: str, page: Any) -> None:
    page.goto(f"{server}/stocks/")
    page.wait_for_function("document.getElementById('stock-price').textContent !== ''")
    assert page.inner_text("#stock-symbol") == "AAPL"  # the default, before any request
    price = page.inner_text("#stock-price")
    float(price.replace(",", ""))
    change = page.inner_text("#stock-change")
    assert "-" not in change  # a minus sign (U+2212), not a hyphen
    float(change.replace("+", "").replace("\u2212", "-").rstrip("%"))
    assert page.title() == "Live stock quote · tickstream"
    assert "ws/stocks" not in page.inner_text("#stocks")  # no developer words
    page.select_option("#stock-picker", "MSFT")
    page.wait_for_function("document.getElementById('stock-symbol').textContent === 'MSFT'")
    msft = page.inner_text("#stock-price")
    page.wait_for_function(
        f"document.getElementById('stock-price').textContent !== {msft!r}", timeout=30_000
    )

    page.goto(f"{server}/trading/")
    page.wait_for_function("document.getElementById('cryptocurrency-price').textContent !== ''")
    assert page.inner_text("#cryptocurrency-name") == "Bitcoin"
    stamp = page.get_attribute("#cryptocurrency-timestamp", "datetime")
    page.wait_for_function(
        f"document.getElementById('cryptocurrency-timestamp').dateTime !== {stamp!r}",
        timeout=30_000,
    )
    page.select_option("#crypto-picker", "ETH-USD")
    page.wait_for_function(
        "document.getElementById('cryptocurrency-name').textContent === 'Ethereum'"
    )
    assert page.errors == []


def test_a_server_restart_shows_reconnecting_then_resumes_without_reload(
    browser: Any, tmp_path: Path
) -> None:
    port = free_port()
    env = server_env(tmp_path)
    log = tmp_path / "server.log"
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        with process(server_args(port), env, log):
            wait_ready(port)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function(
                "Number(document.getElementById('chart').dataset.liveUpdates) >= 2",
                timeout=20_000,
            )
            page.evaluate("window.sameDocument = true")
        # The server is gone.
        page.wait_for_function(
            "['reconnecting', 'offline'].includes("
            "document.getElementById('connection-state').dataset.state)",
            timeout=20_000,
        )
        # The numbers on screen say they are not live any more, and since when.
        assert page.inner_text("#stale-note").startswith("Not live (")
        assert page.evaluate("document.documentElement.dataset.connection") != "live"
        shutil.copy(log, tmp_path / "server-1.log")
        with process(server_args(port), env, log):
            page.wait_for_function(
                "document.getElementById('connection-state').dataset.state === 'live'",
                timeout=60_000,
            )
            # Every channel is whole again (the new market process sends snapshots marked
            # reset), live updates flow again, and the page was never reloaded.
            page.wait_for_function(
                "(() => { const c = window.tickstreamClient;"
                " return [...c.channels.keys()].every(n => c.synced(n)); })()",
                timeout=20_000,
            )
            stats = page.evaluate("window.tickstreamClient.stats")
            assert stats["resets"] >= 1
            before = int(dataset(page, "#chart")["liveUpdates"])
            page.wait_for_function(
                f"Number(document.getElementById('chart').dataset.liveUpdates) > {before}",
                timeout=20_000,
            )
            assert page.evaluate("window.sameDocument") is True
            assert page.inner_text("#connection-state") == "live"
            assert page.is_hidden("#stale-note")
    finally:
        context.close()


def test_a_failed_feed_marks_its_rows_stale(browser: Any, tmp_path: Path) -> None:
    """AAPL is priced by a stock feed that cannot start (no credentials): the status line
    says so and AAPL's row is marked stale, while the simulated market's rows are not."""
    port = free_port()
    feeds = "simulated symbols=BTC-USD,ETH-USD;alpaca symbols=AAPL"
    env = dev_env(tmp_path, SIM_RATE="60", FEEDS=feeds, ALPACA_API_KEY="", ALPACA_API_SECRET="")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        with process(server_args(port), env, tmp_path / "server.log"):
            wait_ready(port)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#feeds-status .feed[data-state='failed']", timeout=20_000)
            assert page.inner_text("#feeds-status").split() == [
                "sim",
                "live",
                "alpaca-iex",
                "failed",
            ]
            title = page.get_attribute("#feeds-status .feed[data-state='failed']", "title")
            assert title and "ALPACA_API_KEY" in title  # the reason, on hover
            stale = page.query_selector_all("#watchlist tr.stale")
            assert [r.get_attribute("data-symbol") for r in stale] == ["AAPL"]
            assert page.get_attribute("#watchlist tr[data-symbol='AAPL']", "data-stale") == (
                "alpaca-iex: failed"
            )
            page.screenshot(path=str(SHOTS / "dashboard-feed-failed.png"))
    finally:
        context.close()
