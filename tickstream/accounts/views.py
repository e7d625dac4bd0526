"""Account pages: sign-up (when SIGNUP_ENABLED) and the API token page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from tickstream.accounts.forms import PasswordChangeEverywhereForm, SignUpForm
from tickstream.accounts.services import password_changed, token_get_or_create, token_rotate


class SignUpView(View):
    """`/accounts/signup/`: create an account and sign in (off unless SIGNUP_ENABLED)."""

    template_name = "registration/signup.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.SIGNUP_ENABLED:
            raise Http404("sign-up is turned off on this server")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": SignUpForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SignUpForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        try:
            user = form.save()
        except ValidationError as taken:  # a look-alike name won the race
            form.add_error("username", taken)
            return render(request, self.template_name, {"form": form}, status=400)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(safe_next(request) or "portfolio-list")


def safe_next(request: HttpRequest) -> str | None:
    """The `next` page to go to, if it is a path on this site (never another host, a
    scheme such as javascript:, or a bare word): as login checks it."""
    target = request.GET.get("next") or request.POST.get("next") or ""
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return target


class TokenView(LoginRequiredMixin, View):
    """`/accounts/token/`: the user's API token, and a button that rotates it."""

    def get(self, request: HttpRequest) -> HttpResponse:
        token = token_get_or_create(user=request.user)
        return render(request, "accounts/token.html", {"token": token.key})

    def post(self, request: HttpRequest) -> HttpResponse:
        token = token_rotate(user=request.user)
        return render(request, "accounts/token.html", {"token": token.key, "rotated": True})


class PasswordChangeView(auth_views.PasswordChangeView):
    """`/accounts/password_change/`: Django's, then the browser sessions' sockets are
    signed out, and with "sign out everywhere" the API token is replaced as well."""

    form_class = PasswordChangeEverywhereForm
    template_name = "accounts/password_change_form.html"  # the admin's would win the name

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        everywhere = bool(form.cleaned_data.get("sign_out_everywhere"))
        password_changed(user=form.user, everywhere=everywhere)
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"
