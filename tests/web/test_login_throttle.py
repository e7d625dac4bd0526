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


def test_wrong_passwords_lock_the_account_for_every_address(settings: object) -> None:
    User.objects.create_user("alice", password="right-horse-battery")
    client = Client()
    for n in range(4):
        response = _login(client, "alice", f"wrong-{n}", f"10.0.0.{n}")
        assert response.status_code == 200  # the form again, with its error
        assert b"did not match" in response.content
    # The fifth failure locks the account: said at once, with when to try again.
    response = _login(client, "alice", "wrong-4", "10.0.0.4")
    assert response.status_code == 429
    assert b"Try again in 15 minutes" in response.content
    # Then even the right password fails, from a new address too.
    response = _login(client, "alice", "right-horse-battery", "10.0.0.99")
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session
    # Another account is not locked out by alice's failures.
    User.objects.create_user("bob", password="another-good-one")
    response = _login(Client(), "bob", "another-good-one", "10.0.0.100")
    assert response.status_code == 302


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
