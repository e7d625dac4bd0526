"""Signed out where it happened elsewhere: a password changed in one browser closes the
live page of another session of the same user, which says "signed out" (and stops
retrying) instead of going on as if nothing happened. The password page is the app's."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import DESKTOP, NEEDS_CHROMIUM, PHONE, SHOTS, sign_up

pytestmark = NEEDS_CHROMIUM
PASSWORD = "lantern-orchid-31"


def test_a_password_changed_elsewhere_signs_out_the_live_page(server: str, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    first = browser.new_context(viewport=DESKTOP)
    live = first.new_page()
    name = sign_up(live, server, PASSWORD)
    # The token page copies the token in one click.
    first.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    live.goto(f"{server}/accounts/token/")
    live.click("[data-copy='#api-token']")
    live.wait_for_selector("text=Copied")
    copied = live.evaluate("navigator.clipboard.readText()")
    assert copied == live.inner_text("#api-token") and len(copied) == 40
    live.goto(f"{server}/")
    state = "document.getElementById('connection-state').dataset.state"
    live.wait_for_function(f"{state} === 'live'", timeout=20_000)

    second = browser.new_context(viewport=PHONE, color_scheme="dark")
    other = second.new_page()
    other.goto(f"{server}/accounts/login/?next=/accounts/password_change/")
    other.fill("#id_username", name)
    other.fill("#id_password", PASSWORD)
    other.click("form.login button[type=submit]")
    other.wait_for_selector("text=Change your password")
    assert other.locator("text=Django administration").count() == 0
    assert other.locator("#id_sign_out_everywhere").count() == 1
    other.screenshot(path=str(SHOTS / "password-change-phone-dark.png"), full_page=True)
    other.fill("#id_old_password", PASSWORD)
    other.fill("#id_new_password1", PASSWORD + "x")
    other.fill("#id_new_password2", PASSWORD + "x")
    other.click("form.login button[type=submit]")  # not the header's "Log out"
    other.wait_for_selector("text=Password changed")

    live.wait_for_function(f"{state} === 'signed-out'", timeout=10_000)
    assert live.inner_text("#connection-state") == "signed out"
    # The numbers on screen are marked stale, with since when and a way back in.
    note = live.inner_text("#stale-note")
    assert note.startswith("You were signed out: the numbers below stopped at "), note
    assert live.get_attribute("#stale-note a", "href").startswith("/accounts/login/?next=")
    opacity = live.evaluate("getComputedStyle(document.querySelector('main .num')).opacity")
    assert float(opacity) == 0.5
    live.screenshot(path=str(SHOTS / "dashboard-signed-out.png"))
    first.close()
    second.close()
