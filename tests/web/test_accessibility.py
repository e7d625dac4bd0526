"""axe-core (vendored in tests/web/vendor/axe-core, its default rules) on every page of the
app, anonymous and signed in, in the light and the dark theme: no critical or serious
violation. Also keyboard basics: a skip link to the content on every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import DESKTOP, NEEDS_CHROMIUM, sign_in_demo, sign_up

pytestmark = NEEDS_CHROMIUM
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"

# (path, what says the page has drawn its live content)
ANONYMOUS = [
    ("/", "Number(document.getElementById('chart').dataset.candles) > 0"),
    ("/ticker/", "Number(document.getElementById('tape-track').dataset.updates) > 0"),
    ("/stocks/", "document.getElementById('stock-price').textContent !== ''"),
    ("/trading/", "document.getElementById('venue').dataset.last"),
    ("/accounts/login/", "true"),
    ("/accounts/signup/", "true"),
    ("/api/docs/", "document.querySelector('#swagger-ui .opblock')"),
    ("/no-such-page/", "true"),
]
SIGNED_IN = [
    ("/", "Number(document.getElementById('chart').dataset.candles) > 0"),
    ("/portfolio/", "true"),
    ("/portfolio/1/", "document.getElementById('portfolio').dataset.value"),
    ("/alerts/", "true"),
    ("/trading/", "document.getElementById('venue').dataset.last"),
    ("/accounts/token/", "true"),
    ("/accounts/password_change/", "true"),
]


def _violations(page: Any) -> list[str]:
    """axe's critical and serious violations on the page. Swagger UI's own markup on
    /api/docs/ (a third-party widget: buttons nested in its summaries, its method
    badges' colours) is left out; the page around it is checked."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "axe.run({ exclude: [['#swagger-ui']] }, { resultTypes: ['violations'] })"
    )
    found = []
    for v in result["violations"]:
        if v["impact"] in ("critical", "serious"):
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
            found.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}): {targets}")
    return found


def _audit(browser: Any, server: str, pages: list[tuple[str, str]], signed_in: bool) -> list[str]:
    problems = []
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
        page = context.new_page()
        if signed_in:
            sign_in_demo(page, server)
        for path, ready in pages:
            page.goto(f"{server}{path}")
            page.wait_for_function(ready, timeout=20_000)
            page.wait_for_timeout(300)
            problems += [f"{scheme} {path}: {v}" for v in _violations(page)]
            skip = page.query_selector("a.skip-link")
            if skip is None or skip.get_attribute("href") != "#content":
                problems.append(f"{scheme} {path}: no skip link to #content")
        context.close()
    return problems


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_no_serious_accessibility_violation_on_any_page(
    server: str, browser: Any, signed_in: bool
) -> None:
    pages = SIGNED_IN if signed_in else ANONYMOUS
    problems = _audit(browser, server, pages, signed_in)
    assert problems == [], "\n".join(problems)


def test_the_keyboard_reaches_skips_and_submits(server: str, browser: Any) -> None:
    """Tab first reaches the skip link, which moves focus to the content; Enter in the
    date-time field submits the transaction form; Cancel of an edit puts focus back on the
    row's Edit button."""

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_up(page, server, "keyboard-lantern-9")
    page.fill("#portfolio-name", "Keys")
    page.click("#new-portfolio button[type=submit]")
    page.wait_for_selector("#portfolio[data-shown]")  # its script runs: the form is live

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"

    page.select_option("#tx-form select[name=kind]", "deposit")
    page.fill("#tx-form input[name=quantity]", "500")
    page.focus("#tx-form input[name=time]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#transactions tbody tr[data-id]")
    row_id = page.get_attribute("#transactions tbody tr[data-id]", "data-id")
    page.click(f'#transactions tr[data-id="{row_id}"] [data-action=edit]')
    assert page.evaluate("document.activeElement.name") == "kind"
    page.click("#tx-cancel")
    focused = page.evaluate(
        "[document.activeElement.dataset.action, document.activeElement.closest('tr')?.dataset.id]"
    )
    assert focused == ["edit", row_id]
    context.close()
