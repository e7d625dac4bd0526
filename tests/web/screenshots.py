"""Screenshots of every page at desktop and phone width, both themes: `make screenshots`.

Not a test (it asserts nothing but that the pages drew): pytest runs it only when named,
and the images go to test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import time
from typing import Any

from tests.web.conftest import DESKTOP, NEEDS_CHROMIUM, PHONE, SHOTS

pytestmark = NEEDS_CHROMIUM


def shoot(browser: Any, url: str, name: str, ready: str) -> None:
    """Screenshots of a page at desktop and phone width, in both themes at desktop width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport, scheme in [
        ("desktop", DESKTOP, "light"),
        ("desktop-dark", DESKTOP, "dark"),
        ("phone", PHONE, "dark"),
    ]:
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(ready, timeout=20_000)
        time.sleep(1)  # a few live updates drawn
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"))
        context.close()


def test_every_page(server: str, browser: Any) -> None:
    shoot(
        browser,
        f"{server}/?symbol=AAPL&interval=1m",
        "dashboard",
        "Number(document.getElementById('chart').dataset.liveUpdates) >= 2",
    )
    shoot(
        browser,
        f"{server}/ticker/",
        "ticker",
        "Number(document.getElementById('tape-track').dataset.updates) > 40",
    )
    shoot(
        browser,
        f"{server}/stocks/",
        "stocks",
        "document.getElementById('stock-price').textContent !== ''",
    )
    shoot(
        browser,
        f"{server}/trading/",
        "trading",
        "document.getElementById('cryptocurrency-price').textContent !== ''",
    )
    shoot(browser, f"{server}/accounts/login/", "login", "true")
    shoot(
        browser, f"{server}/api/docs/", "api-docs", "document.querySelector('#swagger-ui .opblock')"
    )
    shoot(browser, f"{server}/no-such-page/", "not-found", "true")
    shoot(browser, f"{server}/accounts/signup/", "signup", "true")
    assert len(list(SHOTS.glob("*.png"))) >= 24
