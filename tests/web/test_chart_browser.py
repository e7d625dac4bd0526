"""The chart behaves as a trader's chart does (TradingView's is the reference): the legend
stays on the candle under the crosshair while the market moves, each indicator's value in
its line's colour; indicator panes keep their height; a daily candle's legend is a date;
what cannot be shown yet is said; a symbol that does not exist is said, not replaced."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import NEEDS_CHROMIUM, SHOTS, sign_up
from tests.web.test_browser import dataset

pytestmark = NEEDS_CHROMIUM


def test_the_legend_follows_the_crosshair_through_live_updates(server: str, page: Any) -> None:
    page.goto(f"{server}/?symbol=AAPL&interval=1m")
    page.wait_for_function(
        "Number(document.getElementById('chart').dataset.candles) > 30", timeout=20_000
    )
    newest = int(dataset(page, "#chart")["lastTime"])
    if page.evaluate("(Date.now() / 1000) % 60") > 40:
        # A new minute's candle would shift the bars under a still pointer by one (as on
        # TradingView): start after it, so the test watches live updates of one candle.
        page.wait_for_function(
            f"Number(document.getElementById('chart').dataset.lastTime) > {newest}",
            timeout=30_000,
        )
        newest = int(dataset(page, "#chart")["lastTime"])
    box = page.locator("#chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.3)
    page.wait_for_function("document.getElementById('legend').dataset.time !== ''")
    hovered = int(page.get_attribute("#legend", "data-time"))
    assert hovered < newest
    updates = int(dataset(page, "#chart")["liveUpdates"])
    page.wait_for_function(
        f"Number(document.getElementById('chart').dataset.liveUpdates) >= {updates + 2}",
        timeout=20_000,
    )
    assert int(page.get_attribute("#legend", "data-time")) == hovered  # not snapped back
    # Each indicator's value in its line's colour (SMA's, of the theme).
    assert page.locator('#legend b[style*="--ind-sma"]').count() == 1
    page.mouse.move(5, 5)  # off the chart: the newest candle again
    page.wait_for_function(
        "document.getElementById('legend').dataset.time"
        " === document.getElementById('chart').dataset.lastTime"
    )


def test_indicator_panes_keep_their_height(server: str, page: Any) -> None:
    page.goto(f"{server}/?symbol=MSFT&interval=1m")
    page.wait_for_function("Number(document.getElementById('chart').dataset.candles) > 30")
    for key in ("rsi", "macd"):
        box = page.locator(f"#indicators input[value={key}]")
        if not box.is_checked():
            box.check()
    page.wait_for_function("document.getElementById('chart').dataset.panes === '3'")
    page.wait_for_function("(document.getElementById('chart').dataset.paneHeights || '') !== ''")
    heights = [float(h) for h in dataset(page, "#chart")["paneHeights"].split(",")]
    assert len(heights) == 3 and min(heights[1:]) >= 100, heights  # was ~15 px for RSI
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chart-rsi-macd-desktop.png"))
    page.locator("#indicators input[value=macd]").uncheck()


def test_a_daily_legend_is_a_date_and_a_short_history_is_said(server: str, page: Any) -> None:
    page.goto(f"{server}/?symbol=AAPL&interval=1d")
    page.wait_for_function("Number(document.getElementById('chart').dataset.candles) > 0")
    when = page.inner_text("#legend span")
    assert not re.search(r"\d:\d\d", when), when  # a day, not "01:00:00 AM"
    # An hour of history has one or two hourly candles: the indicators say they wait.
    page.goto(f"{server}/?symbol=AAPL&interval=1h")
    page.wait_for_selector("#chart-note:not([hidden])")
    note = page.inner_text("#chart-note")
    assert note.startswith("Not enough history yet at 1h:") and "needs" in note, note
    # A missing value is a dash, not a blank (the legend is drawn once the candles are: wait).
    page.wait_for_function(
        "document.getElementById('legend').innerText.includes('SMA —')", timeout=10_000
    )


def test_a_symbol_that_does_not_exist_is_said(server: str, page: Any) -> None:
    page.goto(f"{server}/?symbol=NOPE&interval=1m")
    page.wait_for_selector("#symbol-note:not([hidden])")
    assert "There is no instrument “NOPE”" in page.inner_text("#symbol-note")


def test_one_clock_on_the_trading_page(server: str, page: Any) -> None:
    """The venue's chart labels its time axis in the viewer's clock, as every other time on
    the page is (it was UTC, 24 h)."""
    page.goto(f"{server}/trading/")
    page.wait_for_function("document.getElementById('venue').dataset.last")
    labels = page.evaluate(
        """async () => {
        const { chartTickMark } = await import("/static/tickstream/format.js");
        const t = Date.UTC(2026, 0, 2, 15, 30) / 1000;
        return [chartTickMark(t, 3), new Date(t * 1000).toLocaleTimeString(undefined,
                { hour: "2-digit", minute: "2-digit" })];
    }"""
    )
    assert labels[0] == labels[1]
    script = page.evaluate("fetch('/static/tickstream/venue.js').then(r => r.text())")
    assert "tickMarkFormatter: chartTickMark" in script


def test_the_watchlist_is_edited_on_the_dashboard(server: str, page: Any) -> None:
    """Add, reorder and remove from the dashboard itself, saved as it changes (before,
    only the API could change a watchlist)."""

    sign_up(page, server, "watch-lantern-12")
    page.goto(f"{server}/")
    page.click("#watchlist-edit")
    saved = "Number(document.getElementById('watchlist-edit').dataset.saved || 0)"

    def act(label: str, n: int) -> None:
        page.click(f'#watchlist button[aria-label="{label}"]')
        page.wait_for_function(f"{saved} >= {n}")

    # A new user sees every instrument: keep AAPL, MSFT and BTC-USD.
    symbols = page.eval_on_selector_all(
        "#watchlist tr[data-symbol]", "rs => rs.map(r => r.dataset.symbol)"
    )
    n = 0
    for symbol in symbols:
        if symbol not in {"AAPL", "MSFT", "BTC-USD"}:
            n += 1
            act(f"Remove {symbol} from the watchlist", n)
    act("Move MSFT up", n + 1)  # AAPL, MSFT, BTC-USD
    act("Move MSFT up", n + 2)  # MSFT, AAPL, BTC-USD
    act("Remove BTC-USD from the watchlist", n + 3)
    page.click("#watchlist-edit")  # done
    page.reload()
    shown = page.eval_on_selector_all(
        "#watchlist tr[data-symbol]:not([hidden])", "rs => rs.map(r => r.dataset.symbol)"
    )
    assert shown == ["MSFT", "AAPL"]
    page.click("#watchlist-edit")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "watchlist-editing-desktop.png"))
    act("Add ETH-USD to the watchlist", 1)
    page.reload()
    shown = page.eval_on_selector_all(
        "#watchlist tr[data-symbol]:not([hidden])", "rs => rs.map(r => r.dataset.symbol)"
    )
    assert shown == ["MSFT", "AAPL", "ETH-USD"]


def test_indicator_lengths_are_edited_and_remembered(server: str, browser: Any) -> None:
    from tests.web.conftest import DESKTOP

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/candles/" in r.url else None)
    page.goto(f"{server}/?symbol=AAPL&interval=1m")
    page.wait_for_function("Number(document.getElementById('chart').dataset.candles) > 30")
    page.click("details.params summary")
    page.fill("#indicator-params input[name=sma0]", "5")
    page.fill("#indicator-params input[name=rsi0]", "1")  # too short: said, nothing changes
    page.click("#indicator-params button[type=submit]")
    page.wait_for_selector("#params-error:not([hidden])")
    assert "RSI length" in page.inner_text("#params-error")
    page.fill("#indicator-params input[name=rsi0]", "21")
    page.click("#indicator-params button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#indicators input[value=sma]').parentElement.textContent.trim()"
        " === 'SMA 5'"
    )
    page.wait_for_function("Number(document.getElementById('chart').dataset.candles) > 30")
    assert any("indicators=sma:5,ema:20,bbands:20:2,rsi:21,macd:12:26:9" in u for u in asked)
    assert page.is_visible("#params-note")
    page.screenshot(path=str(SHOTS / "chart-lengths-desktop.png"))
    page.reload()  # remembered
    page.wait_for_function(
        "document.querySelector('#indicators input[value=rsi]').parentElement.textContent.trim()"
        " === 'RSI 21'"
    )
    page.click("details.params summary")
    page.click("#indicator-params button[type=reset]")  # back to the defaults
    page.wait_for_function(
        "document.querySelector('#indicators input[value=sma]').parentElement.textContent.trim()"
        " === 'SMA 20'"
    )
    assert page.is_hidden("#params-note")
    context.close()
