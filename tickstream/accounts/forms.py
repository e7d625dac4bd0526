from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.db import transaction

from tickstream.accounts.models import NameSkeleton
from tickstream.accounts.names import reserved_skeletons, skeleton

LOOKS_TAKEN = "A user with a name that looks the same already exists; choose another."


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    """A username and a password typed twice, checked by the password validators.

    The name is NFKC-normalised (Django's username field) and refused when it looks like
    a name kept for the site or like a user's name (one skeleton, `names.skeleton`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs["autofocus"] = True

    def clean_username(self) -> str:
        name: str = super().clean_username()
        if not name:
            return name
        shape = skeleton(name)
        if shape in reserved_skeletons():
            raise ValidationError("This name is kept for the site; choose another.", "reserved")
        if NameSkeleton.objects.filter(skeleton=shape).exists():
            raise ValidationError(LOOKS_TAKEN, "looks_taken")
        return name

    def save(self, commit: bool = True) -> Any:
        """The new user; raises ValidationError (and creates nothing) when a look-alike
        name was taken between the check and the write."""
        with transaction.atomic():
            user = super().save(commit=commit)
            if commit and not NameSkeleton.objects.filter(user=user).exists():
                raise ValidationError(LOOKS_TAKEN, "looks_taken")
        return user


class PasswordChangeEverywhereForm(PasswordChangeForm):
    """Django's password change, with "sign out everywhere" (`services.password_changed`)."""

    sign_out_everywhere = forms.BooleanField(
        required=False,
        label="Also sign out everywhere and replace my API token (programs using it stop "
        "until they are given the new one)",
    )
