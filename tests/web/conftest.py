"""Fixtures of the browser tests: one server with the simulated market, one Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    ROOT,
    dev_env,
    free_port,
    process,
    server_args,
    wait_for_quotes,
)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium chromium-driver)",
    ),
]


def server_env(var: Path) -> dict[str, str]:
    # An hour of history, as a first `make run` has.
    return dev_env(var, SIM_RATE="60", SIM_BACKFILL_S="3600")


def wait_ready(port: int) -> None:
    wait_for_quotes(f"http://127.0.0.1:{port}", timeout=60)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The server's address, and the directory of its files (its database)."""
    var = tmp_path_factory.mktemp("browser-server")
    port = free_port()
    with process(server_args(port), server_env(var), var / "server.log"):
        wait_ready(port)
        yield f"http://127.0.0.1:{port}", var


@pytest.fixture(scope="session")
def server(served: tuple[str, Path]) -> str:
    return served[0]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" else None,
    )
    page.errors = errors
    yield page
    context.close()


def sign_up(page: Any, server: str, password: str = "violet-harbour-42") -> str:  # noqa: S107
    """A new user signed up (and in) through the sign-up page; their name."""
    import uuid

    name = f"u{uuid.uuid4().hex[:10]}"
    page.goto(f"{server}/accounts/signup/")
    page.fill("#id_username", name)
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url(f"{server}/portfolio/")
    return name


def sign_in_demo(page: Any, server: str, next_path: str = "/") -> None:
    """The demo user signed in through the login page, landing on `next_path`."""
    page.goto(f"{server}/accounts/login/?next={next_path}")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "demo-tickstream")
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{server}{next_path}*")
