"""Pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tickstream.market.selectors import quote_list


def index(request: HttpRequest) -> HttpResponse:
    """The market overview: latest quote of every instrument."""
    return render(request, "web/index.html", {"quotes": quote_list()})
