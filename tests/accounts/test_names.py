"""Sign-up refuses names that look like a taken name or a name kept for the site."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tickstream.accounts.models import NameSkeleton
from tickstream.accounts.names import RESERVED, skeleton

PASSWORD = "orchid-lantern-7"


@pytest.mark.parametrize(
    "alike",
    ["dеmo", "DEMO", "Demo", "ｄｅｍｏ", "dem0", "ԁеmо"],  # Cyrillic е, о, ԁ; full width; zero
)
def test_look_alikes_share_a_skeleton(alike: str) -> None:
    assert skeleton(alike) == skeleton("demo")


@pytest.mark.parametrize(("one", "other"), [("demo", "deme"), ("alice", "alicia"), ("é", "e")])
def test_different_names_keep_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


def test_multi_letter_look_alikes() -> None:
    assert skeleton("mallory") == skeleton("rnallory")  # m and rn, as Unicode lists them
    assert skeleton("user_1") == skeleton("user_l")


def _sign_up(name: str) -> Any:
    body = {"username": name, "password1": PASSWORD, "password2": PASSWORD}
    return Client().post("/accounts/signup/", body)


@pytest.mark.django_db
@pytest.mark.parametrize("alike", ["dеmo", "DEMO", "ｄｅｍｏ", "dem0"])
def test_sign_up_refuses_a_name_that_looks_taken(settings: Any, alike: str) -> None:
    settings.SIGNUP_ENABLED = True
    User.objects.create_user("demo", password=PASSWORD)
    refused = _sign_up(alike)
    assert refused.status_code == 400
    assert b"looks the same" in refused.content or b"already exists" in refused.content
    assert User.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["admin", "Admin", "аdmin", "support", "tickstream"])
def test_sign_up_refuses_a_reserved_name(settings: Any, name: str) -> None:
    settings.SIGNUP_ENABLED = True
    refused = _sign_up(name)
    assert refused.status_code == 400 and b"kept for the site" in refused.content
    assert not User.objects.exists()
    assert "admin" in RESERVED


@pytest.mark.django_db
def test_a_fresh_name_is_taken_with_its_skeleton(settings: Any) -> None:
    settings.SIGNUP_ENABLED = True
    User.objects.create_user("demo", password=PASSWORD)
    assert _sign_up("dana").status_code == 302
    dana = User.objects.get(username="dana")
    assert dana.name_skeleton.skeleton == skeleton("dana")
    dana.username = "dana2"
    dana.save()
    assert NameSkeleton.objects.get(user=dana).skeleton == skeleton("dana2")
    assert _sign_up("dana").status_code == 302  # the old name is free again


@pytest.mark.django_db
def test_a_look_alike_written_between_check_and_save_creates_nothing(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sign-ups racing: the second write finds the skeleton held, and rolls back."""
    from tickstream.accounts import forms

    settings.SIGNUP_ENABLED = True
    real_clean = forms.SignUpForm.clean_username

    def clean_then_lose_the_race(form: Any) -> str:
        name = real_clean(form)
        User.objects.create_user("demo", password=PASSWORD)
        return name

    monkeypatch.setattr(forms.SignUpForm, "clean_username", clean_then_lose_the_race)
    refused = _sign_up("dеmo")
    assert refused.status_code == 400 and b"looks the same" in refused.content
    assert list(User.objects.values_list("username", flat=True)) == ["demo"]
