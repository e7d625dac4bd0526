"""Failed logins are throttled per account and per address, with a clear message."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str, address: str) -> object:
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_wrong_passwords_lock_the_account_from_that_address_only() -> None:
    User.objects.create_user("alice", password="right-horse-battery")
    client = Client()
    for n in range(4):
        response = _login(client, "alice", f"wrong-{n}", "203.0.113.66")
        assert response.status_code == 200  # the form again, with its error
        assert b"did not match" in response.content
    # The fifth failure locks alice from this address: said at once, with when to try again.
    response = _login(client, "alice", "wrong-4", "203.0.113.66")
    assert response.status_code == 429
    assert b"Try again in 15 minutes" in response.content
    # Then even the right password fails from that address.
    response = _login(client, "alice", "right-horse-battery", "203.0.113.66")
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session
    # The owner at her own address is not locked out by the stranger's guesses.
    owner = Client()
    assert _login(owner, "alice", "right-horse-battery", "10.0.0.99").status_code == 302
    assert "_auth_user_id" in owner.session


def test_guesses_spread_over_addresses_lock_no_one_out() -> None:
    User.objects.create_user("erin", password="erins-password-7")
    for n in range(8):
        assert _login(Client(), "erin", f"wrong-{n}", f"10.9.0.{n}").status_code == 200
    assert _login(Client(), "erin", "erins-password-7", "10.9.0.200").status_code == 302


def test_one_address_trying_many_accounts_is_locked_out() -> None:
    User.objects.create_user("carol", password="carols-password-1")
    client = Client()
    for n in range(4):
        assert _login(client, f"user{n}", "guess", "192.0.2.7").status_code == 200
    assert _login(client, "user4", "guess", "192.0.2.7").status_code == 429
    response = _login(client, "carol", "carols-password-1", "192.0.2.7")
    assert response.status_code == 429
    # The same account from another address still logs in.
    assert _login(Client(), "carol", "carols-password-1", "192.0.2.8").status_code == 302


def test_a_success_resets_the_count() -> None:
    User.objects.create_user("dave", password="daves-password-1")
    client = Client()
    for _ in range(4):
        _login(client, "dave", "nope", "198.51.100.1")
    assert _login(client, "dave", "daves-password-1", "198.51.100.1").status_code == 302
    for _ in range(4):
        assert _login(Client(), "dave", "nope", "198.51.100.1").status_code == 200
    assert _login(Client(), "dave", "daves-password-1", "198.51.100.1").status_code == 302
