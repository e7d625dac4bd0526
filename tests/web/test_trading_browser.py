"""Paper trading in a real Chromium against a real server with the simulated market: the
demo user places a limit order from the ticket, sees it rest on the chart as a price line,
sees it fill when a trade crosses it (pushed through the ingest API, so the test does not
wait on chance) and sees the fill, the balances and the linked portfolio change without a
reload; another order is placed and cancelled over the websocket; an anonymous visitor
sees prices and a prompt to sign in. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

from tests.support import http_json
from tests.web.conftest import DESKTOP, NEEDS_CHROMIUM, PHONE, SHOTS, sign_in_demo, sign_up

pytestmark = NEEDS_CHROMIUM
DEMO = {"username": "demo", "password": "demo-tickstream"}


def _sign_in(page: Any, server: str) -> None:
    sign_in_demo(page, server, "/trading/")


def _choose(page: Any, symbol: str) -> Decimal:
    """Trade `symbol` on the page; returns its last price once the page shows it."""
    page.select_option("#venue-symbol", symbol)
    page.wait_for_function(
        "s => { const v = document.getElementById('venue');"
        " return v.dataset.symbol === s && v.dataset.last; }", arg=symbol, timeout=20_000
    )  # fmt: skip
    return Decimal(page.get_attribute("#venue", "data-last"))


def _balance(page: Any, currency: str) -> tuple[Decimal, Decimal]:
    row = page.query_selector(f'#balances tr[data-currency="{currency}"]')
    if row is None:
        return Decimal(0), Decimal(0)
    return Decimal(row.get_attribute("data-available")), Decimal(row.get_attribute("data-reserved"))


def _place(page: Any, side: str, quantity: str, price: Decimal) -> None:
    page.select_option("#ticket select[name=side]", side)
    page.select_option("#ticket select[name=type]", "limit")
    page.fill("#ticket input[name=quantity]", quantity)
    page.fill("#ticket input[name=price]", str(price))
    page.click("#ticket-submit")


def test_a_limit_order_rests_on_the_chart_fills_and_moves_balances_and_portfolio(
    server: str, browser: Any
) -> None:
    # A time zone east of UTC, where the cash-only portfolio once showed -99.99 %.
    context = browser.new_context(viewport=DESKTOP, timezone_id="Europe/Berlin")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, server)
    last = _choose(page, "SOL-USD")
    usd_before = _balance(page, "USD")
    assert usd_before[0] > 0

    # The linked portfolio, open in another tab: it must change by itself.
    portfolios = context.request.get(f"{server}/api/portfolios/").json()
    paper = next(p["id"] for p in portfolios if p["name"] == "Paper trading")
    tab = context.new_page()
    tab.goto(f"{server}/portfolio/{paper}/")
    tab.wait_for_selector("#portfolio[data-value]")
    tab.wait_for_selector("#portfolio[data-shown]")
    assert tab.query_selector('#holdings tr[data-symbol="SOL-USD"]') is None
    # Cash deposited today: no money-weighted rate over any period (never -99.99 %).
    for period in ("1M", "YTD", "1Y"):
        assert tab.text_content(f'#returns tr[data-period="{period}"] td:nth-child(3)') == "–"

    # A limit buy 10 % under the market rests: a price line, reserved funds, an open order.
    limit = (last * Decimal("0.9")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    page.fill("#ticket input[name=quantity]", "2")
    page.fill("#ticket input[name=price]", str(limit))
    value = (limit * 2).quantize(Decimal("0.01"))
    page.wait_for_function(
        "document.querySelector('[data-estimate=value]').textContent !== '–'"
    )  # the estimate before sending: value, fee and total
    assert Decimal(page.text_content('[data-estimate="value"]').replace(",", "")) == value
    fee = Decimal(page.text_content('[data-estimate="fee"]').replace(",", ""))
    assert fee == (value * Decimal("0.001")).quantize(Decimal("0.01"))  # the maker rate
    _place(page, "buy", "2", limit)
    page.wait_for_selector("#open-orders tbody tr")
    page.wait_for_function("document.getElementById('venue-chart').dataset.lines === '1'")
    page.wait_for_function(  # drawn inside the chart, though 10 % under every candle
        "document.getElementById('venue-chart').dataset.linesVisible === '1'"
    )
    row = page.query_selector("#open-orders tbody tr")
    order_id = row.get_attribute("data-id")
    assert row.get_attribute("data-status") == "new"
    # 2 x the limit plus the highest fee (20 bps), up to the cent x quantity step.
    reserved = (limit * 2 * Decimal("1.002")).quantize(Decimal("1e-5"), rounding=ROUND_CEILING)
    page.wait_for_function(
        "r => document.querySelector('#balances tr[data-currency=USD]').dataset.reserved === r",
        arg=format((usd_before[1] + reserved).normalize(), "f"),
    )
    page.screenshot(path=str(SHOTS / "trading-resting-desktop.png"))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # A trade through the limit: pushed through the ingest API until the order has filled
    # (the engine takes a placed order within TRADING_POLL_S).
    status, token = http_json(f"{server}/api/auth/token/", data=DEMO)
    assert status == 200, token
    through = (limit * Decimal("0.99")).quantize(Decimal("0.01"))
    deadline = time.monotonic() + 20
    while page.query_selector(f'#fills tr[data-order="{order_id}"]') is None:
        assert time.monotonic() < deadline, "the order did not fill"
        tick = {"symbol": "SOL-USD", "price": str(through), "size": "50",
                "ts": datetime.now(UTC).isoformat()}  # fmt: skip
        status, answer = http_json(
            f"{server}/api/ticks", data={"ticks": [tick]},
            headers={"Authorization": f"Token {token['token']}"},
        )  # fmt: skip
        assert status in (200, 202), answer
        page.wait_for_timeout(400)

    fill = page.query_selector(f'#fills tr[data-order="{order_id}"]')
    cells = [c.text_content() for c in fill.query_selector_all("td")]
    assert cells[1:4] == ["SOL-USD", "buy", "2"]
    assert Decimal(cells[4].replace(",", "")) <= limit  # at its limit, or better as a taker
    page.wait_for_selector(f'#open-orders tr[data-id="{order_id}"]', state="detached")
    page.wait_for_function("document.getElementById('venue-chart').dataset.filledLines === '1'")
    assert page.get_attribute("#venue-chart", "data-lines") == "0"
    sol = _balance(page, "SOL")
    assert sol == (Decimal(2), Decimal(0))
    usd = _balance(page, "USD")
    assert usd[1] == usd_before[1]  # nothing left reserved by this order
    assert usd[0] < usd_before[0] - limit * 2 * Decimal("0.98")
    page.screenshot(path=str(SHOTS / "trading-filled-desktop.png"))
    tab.wait_for_selector('#holdings tr[data-symbol="SOL-USD"]', timeout=10_000)
    assert tab.text_content('#holdings tr[data-symbol="SOL-USD"] td:nth-child(2)') == "2"
    # Holdings, transactions, chart and returns of the tab agree, with no reload: every
    # panel shows the revision the fill made.
    revision = context.request.get(f"{server}/api/portfolios/{paper}/").json()["revision"]
    tab.wait_for_function(
        "r => document.getElementById('portfolio').dataset.shown === String(r)", arg=revision
    )
    listed = tab.eval_on_selector_all(
        "#transactions tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    sol = [row for row in listed if row[2] == "SOL-USD"]
    assert sum(Decimal(r[3]) * (1 if r[1] == "buy" else -1) for r in sol) == 2, listed
    assert any(r[1] == "buy" and r[7] == f"paper order {order_id}" for r in sol), listed
    assert tab.get_attribute("#value-chart", "data-last")
    assert navigations == [] and errors == []
    context.close()


def test_an_order_is_placed_and_cancelled_over_the_websocket(server: str, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    page = context.new_page()
    sent: list[dict[str, Any]] = []

    def watch(ws: Any) -> None:
        if ws.url.endswith("/ws/v1/"):
            ws.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page.on("websocket", watch)
    _sign_in(page, server)
    last = _choose(page, "ETH-USD")
    before = _balance(page, "USD")
    limit = (last * Decimal("0.8")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    _place(page, "buy", "0.5", limit)
    page.wait_for_selector("#open-orders tbody tr")
    row = page.query_selector("#open-orders tbody tr")
    order_id = int(row.get_attribute("data-id"))
    placed = [m for m in sent if m.get("op") == "order.place"]
    assert len(placed) == 1 and placed[0]["order"]["symbol"] == "ETH-USD"
    assert placed[0]["order"]["price"] == str(limit)
    assert _balance(page, "USD")[1] > before[1]
    page.screenshot(path=str(SHOTS / "trading-order-phone-dark.png"), full_page=True)

    page.click(f'#open-orders button[data-cancel="{order_id}"]')
    page.wait_for_selector(f'#open-orders tr[data-id="{order_id}"]', state="detached")
    assert [m["order_id"] for m in sent if m.get("op") == "order.cancel"] == [order_id]
    page.wait_for_function(
        "r => document.querySelector('#balances tr[data-currency=USD]').dataset.reserved === r",
        arg=format(before[1].normalize(), "f"),
    )
    assert "cancelled" in page.text_content("#ticket-message")
    # A refused deposit says why; the next good one replaces that with its own word.
    page.fill("#deposit input[name=amount]", "1_000")
    page.click("#deposit button[type=submit]")
    page.wait_for_function("document.getElementById('ticket-message').className.includes('down')")
    page.fill("#deposit input[name=amount]", "1000")
    page.click("#deposit button[type=submit]")
    page.wait_for_function(
        "document.getElementById('ticket-message').textContent === 'Deposited 1000 USD.'"
    )
    assert "down" not in (page.get_attribute("#ticket-message", "class") or "")
    status, order = http_json(f"{server}/api/trading/orders/{order_id}/")
    assert status in (401, 403)  # the API needs credentials: the page's came from its session
    context.close()


def test_anonymous_visitors_see_prices_and_a_prompt_to_sign_in(server: str, page: Any) -> None:
    page.goto(f"{server}/trading/")
    page.wait_for_function("document.getElementById('venue').dataset.last")
    # Tutorial 003's block, unchanged: filled by its own socket's first price, which may
    # come after the venue's.
    page.wait_for_function("document.getElementById('trading').dataset.name")
    assert page.text_content("#cryptocurrency-name")
    assert page.query_selector("#ticket") is None
    link = page.get_attribute("#sign-in-to-trade", "href")
    assert link == "/accounts/login/?next=/trading/"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "trading-anonymous-desktop.png"))
    assert page.errors == []


def test_the_ticket_offers_shares_of_the_balance_and_warns_far_from_the_market(
    server: str, browser: Any
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _sign_in(page, server)
    last = _choose(page, "ETH-USD")
    page.wait_for_selector('#balances tr[data-currency="USD"]')
    cash = _balance(page, "USD")[0]
    page.select_option("#ticket select[name=side]", "buy")
    page.select_option("#ticket select[name=type]", "limit")
    page.fill("#ticket input[name=price]", str(last))
    shown = page.inner_text("#ticket-available")
    assert shown.startswith("Available: ") and shown.endswith(" USD"), shown
    page.click("#ticket [data-share='50']")
    quantity = Decimal(page.input_value("#ticket input[name=quantity]"))
    # Half the cash at the limit plus the highest fee rate, down to the quantity step.
    root = page.locator("#venue")
    fee = max(
        Decimal(root.get_attribute("data-maker-bps")), Decimal(root.get_attribute("data-taker-bps"))
    )
    unit = last * (1 + fee / 10_000)
    step = Decimal(
        page.evaluate(
            "JSON.parse(document.getElementById('instruments-data').textContent)"
            ".find(i => i.symbol === 'ETH-USD').quantity_step"
        )
    )
    assert quantity == (cash / 2 / unit / step).to_integral_value(rounding=ROUND_DOWN) * step
    # Or by an amount of USD: what 1,000 USD reserves at most.
    page.fill("#ticket input[name=amount_usd]", "1000")
    by_amount = Decimal(page.input_value("#ticket input[name=quantity]"))
    assert by_amount == (Decimal(1000) / unit / step).to_integral_value(rounding=ROUND_DOWN) * step
    # A limit half the market away is said, not silently taken.
    page.fill("#ticket input[name=price]", str((last / 2).quantize(Decimal("0.01"))))
    page.wait_for_selector("#ticket-warning:not([hidden])")
    warning = page.inner_text("#ticket-warning")
    assert "% below the last price" in warning and "waits until the market falls" in warning
    page.fill("#ticket input[name=price]", str(last))
    page.wait_for_selector("#ticket-warning", state="hidden")
    page.screenshot(path=str(SHOTS / "trading-ticket-desktop.png"), full_page=True)
    context.close()


def test_a_new_user_starts_with_paper_cash_and_links_a_portfolio_in_one_step(
    server: str, browser: Any
) -> None:

    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    page = context.new_page()
    sign_up(page, server, "paper-lantern-55")
    page.goto(f"{server}/trading/")
    page.wait_for_selector('#balances tr[data-currency="USD"]')
    assert _balance(page, "USD") == (Decimal(100000), Decimal(0))  # as a broker's paper account
    assert "Link a portfolio" in page.inner_text("#link-note")
    page.select_option("#link-portfolio select[name=portfolio]", "new")
    page.click("#link-portfolio button[type=submit]")
    page.wait_for_selector("#link-note a")
    assert page.inner_text("#link-note a") == "Paper trading"
    page.screenshot(path=str(SHOTS / "trading-linked-phone-dark.png"), full_page=True)
    # Starting over: asked first, then the cash is the amount and the link is gone.
    page.on("dialog", lambda dialog: dialog.accept())
    page.fill("#reset-account input[name=amount]", "5000")
    page.click("#reset-account button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#balances tr[data-currency=USD]').dataset.available === '5000'"
    )
    # The balance may arrive by the socket before the reset's answer unlinks the note.
    page.wait_for_function(
        "document.querySelector('#link-note').textContent.includes('Link a portfolio')"
    )
    page.select_option("#link-portfolio select[name=portfolio]", "new")
    page.click("#link-portfolio button[type=submit]")
    page.wait_for_selector("#link-note a")
    assert page.inner_text("#link-note a") == "Paper trading 2"  # the name was taken
    page.click("#link-note a")
    page.wait_for_selector("#portfolio[data-shown]")  # its script runs: the form is live
    assert page.inner_text("h1") == "Paper trading 2"
    context.close()
