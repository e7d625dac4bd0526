"""Accounts: sign-up (and its setting), password change, API tokens for programs with the
login throttle, token rotation; the development demo data."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def _token(client: Client, body: Any, address: str = "10.1.0.1") -> Any:
    return client.post(
        "/api/auth/token/", json.dumps(body), content_type="application/json", REMOTE_ADDR=address
    )


def test_sign_up_creates_a_user_and_signs_in(settings: Any) -> None:
    settings.SIGNUP_ENABLED = True
    client = Client()
    page = client.get("/accounts/signup/")
    assert page.status_code == 200 and b"Create an account" in page.content
    weak = client.post(
        "/accounts/signup/", {"username": "erin", "password1": "123", "password2": "123"}
    )
    assert weak.status_code == 400 and not User.objects.filter(username="erin").exists()
    done = client.post(
        "/accounts/signup/",
        {"username": "erin", "password1": "orchid-lantern-7", "password2": "orchid-lantern-7"},
    )
    assert done.status_code == 302 and done["Location"] == "/portfolio/"
    assert client.get("/portfolio/").status_code == 200


@pytest.mark.parametrize(
    ("next_page", "landing"),
    [
        ("/alerts/", "/alerts/"),
        ("https://evil.example/", "/portfolio/"),
        ("//evil.example/x", "/portfolio/"),
        ("nope", "/portfolio/"),
        ("javascript:alert(1)", "/portfolio/"),
        ("/\\evil.example", "/portfolio/"),
    ],
)
def test_sign_up_goes_on_only_to_a_page_of_this_site(
    settings: Any, next_page: str, landing: str
) -> None:
    """`next` after sign-up: a path here, else the portfolios (was an open redirect, and a
    500 after the account was made for a bare word or javascript:)."""
    settings.SIGNUP_ENABLED = True
    body = {"username": "erin", "password1": "orchid-lantern-7", "password2": "orchid-lantern-7"}
    done = Client().post(f"/accounts/signup/?next={quote(next_page)}", body)
    assert done.status_code == 302 and done["Location"] == landing


def test_sign_up_can_be_turned_off(settings: Any) -> None:
    settings.SIGNUP_ENABLED = False
    client = Client()
    assert client.get("/accounts/signup/").status_code == 404
    body = {"username": "x", "password1": "orchid-lantern-7", "password2": "orchid-lantern-7"}
    assert client.post("/accounts/signup/", body).status_code == 404
    assert not User.objects.filter(username="x").exists()
    assert b"Sign up" not in client.get("/accounts/login/").content


def test_a_program_gets_its_token_and_uses_it() -> None:
    user = User.objects.create_user("fay", password="fays-password-9")
    client = Client()
    got = _token(client, {"username": "fay", "password": "fays-password-9"})
    assert got.status_code == 200
    key = got.json()["token"]
    assert Token.objects.get(user=user).key == key
    assert _token(client, {"username": "fay", "password": "fays-password-9"}).json()["token"] == key
    listed = client.get("/api/portfolios/", HTTP_AUTHORIZATION=f"Token {key}")
    assert listed.status_code == 200 and listed.json() == []


def test_wrong_credentials_get_a_code_and_are_throttled() -> None:
    User.objects.create_user("gus", password="gus-password-42")
    client = Client()
    for body in ({"username": "gus"}, {"username": 5, "password": []}, ["gus"]):
        response = _token(client, body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "malformed_body"
    for n in range(4):
        response = _token(client, {"username": "gus", "password": f"wrong-{n}"}, "10.2.0.1")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_credentials"
    locked = _token(client, {"username": "gus", "password": "wrong-5"}, "10.2.0.1")
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "throttled"
    right = _token(client, {"username": "gus", "password": "gus-password-42"}, "10.2.0.1")
    assert right.status_code == 429  # locked for this account from this address
    # The owner, elsewhere, is not locked out by a stranger's guesses.
    elsewhere = _token(client, {"username": "gus", "password": "gus-password-42"}, "10.2.0.2")
    assert elsewhere.status_code == 200 and elsewhere.json()["token"]


def test_the_token_page_shows_and_rotates_the_token() -> None:
    user = User.objects.create_user("hal", password="hals-password-3")
    client = Client()
    assert client.get("/accounts/token/").status_code == 302  # to the login page
    client.force_login(user)
    first = Token.objects.get_or_create(user=user)[0].key
    page = client.get("/accounts/token/")
    assert first.encode() in page.content
    rotated = client.post("/accounts/token/")
    second = Token.objects.get(user=user).key
    assert second != first and second.encode() in rotated.content
    old = Client().get("/api/portfolios/", HTTP_AUTHORIZATION=f"Token {first}")
    assert old.status_code in (401, 403)
    assert old.json()["error"]["code"] == "authentication_failed"


def test_password_change_page() -> None:
    user = User.objects.create_user("ida", password="idas-password-5")
    client = Client()
    client.force_login(user)
    assert client.get("/accounts/password_change/").status_code == 200
    done = client.post(
        "/accounts/password_change/",
        {
            "old_password": "idas-password-5",
            "new_password1": "a-new-pass-phrase-6",
            "new_password2": "a-new-pass-phrase-6",
        },
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-pass-phrase-6")


def test_demo_data_gives_the_demo_user_a_working_tracker(instruments: None) -> None:
    call_command("setup_demo")
    call_command("setup_demo_data")
    call_command("setup_demo_data")  # a second start adds nothing
    demo = User.objects.get(username="demo")
    client = Client()
    client.force_login(demo)
    portfolios = {p["name"]: p for p in client.get("/api/portfolios/").json()}
    assert set(portfolios) == {"Long-term", "Paper trading", "Europe (EUR)"}
    assert portfolios["Long-term"]["method"] == "fifo"
    pid = portfolios["Long-term"]["id"]
    transactions = client.get(f"/api/portfolios/{pid}/transactions/").json()
    assert len(transactions) >= 15
    years = {t["time"][:4] for t in transactions}
    assert len(years) >= 3
    holdings = client.get(f"/api/portfolios/{pid}/valuation/").json()["holdings"]
    assert {h["symbol"] for h in holdings} >= {"AAPL", "MSFT", "BTC-USD"}
    assert len(client.get("/api/watchlists/").json()) == 1
    assert len(client.get("/api/alerts/").json()) == 2
    # A paper account with 100,000 USD, its fills and deposits recorded in "Paper trading".
    account = client.get("/api/trading/account/").json()
    assert account["balances"] == [{"currency": "USD", "available": "100000", "reserved": "0"}]
    paper = portfolios["Paper trading"]["id"]
    assert account["portfolio"] == paper
    deposits = client.get(f"/api/portfolios/{paper}/transactions/").json()
    assert [(t["kind"], t["quantity"]) for t in deposits] == [("deposit", "100000")]


def test_demo_data_is_refused_in_production(settings: Any) -> None:
    from django.core.management.base import CommandError

    settings.DEVELOPMENT = False
    with pytest.raises(CommandError):
        call_command("setup_demo_data")


def test_the_password_pages_wear_the_apps_shell() -> None:
    """Django's admin ships templates of the same names, which won before (a page of the
    admin, with a breadcrumb to /admin/, and no "sign out everywhere")."""
    user = User.objects.create_user("ivy", password="ivys-password-5")
    client = Client()
    client.force_login(user)
    page = client.get("/accounts/password_change/").content.decode()
    assert "Django administration" not in page and 'href="/admin/"' not in page
    assert "Change your password" in page and 'name="sign_out_everywhere"' in page
    assert 'id="theme-toggle"' in page  # the app's header
    done = client.get("/accounts/password_change/done/").content.decode()
    assert "Django administration" not in done and "Password changed" in done


def test_the_error_pages_wear_the_apps_shell() -> None:
    from django.test import RequestFactory

    from tickstream.common.api import server_error

    missing = Client().get("/nothing-here/")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert 'id="theme-toggle"' in page and "Page not found" in page and "/nothing-here/" in page
    failed = server_error(RequestFactory().get("/portfolio/"))
    assert failed.status_code == 500
    page = failed.content.decode()
    assert 'id="theme-toggle"' in page and "Something went wrong on our side" in page


def test_the_api_docs_wear_the_apps_shell() -> None:
    page = Client().get("/api/docs/").content.decode()
    assert 'id="theme-toggle"' in page and 'id="swagger-ui"' in page
    assert 'aria-current="page">API</a>' in page
