"""The live `portfolio:<id>` channel: registered with the Hub's channel registry, so
`stream` serves it without knowing this app (docs/channels.md)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from tickstream.portfolio.core.valuation import Valuation
from tickstream.portfolio.models import Portfolio
from tickstream.portfolio.selectors import portfolio_basis, portfolio_rates
from tickstream.portfolio.shapes import HEADER
from tickstream.stream.core.protocol import ChannelRef, ChannelShape
from tickstream.stream.registry import DerivedKind, register


async def portfolio_owned(user: Any, ref: ChannelRef) -> bool:
    """Only the owner reads a portfolio's channel (a missing one is not theirs either)."""
    if ref.key is None or not getattr(user, "is_authenticated", False):
        return False
    return await Portfolio.objects.filter(pk=int(ref.key), owner=user).aexists()


def _valuation(portfolio_id: int) -> Valuation:
    portfolio = Portfolio.objects.get(pk=portfolio_id)
    basis = portfolio_basis(portfolio)
    return Valuation(
        basis,
        header=HEADER.dump(portfolio),
        rates=portfolio_rates(portfolio, basis.currencies()),
    )


async def portfolio_valuation(user: Any, ref: ChannelRef) -> Valuation:
    """The valuation the Hub keeps at market prices: built from the transactions once per
    process and channel, then moved by quotes (prices) and published changes (a new
    basis when transactions change)."""
    return await sync_to_async(_valuation)(int(ref.key or 0))


def register_portfolio_channel() -> None:
    register(
        DerivedKind(
            ChannelShape("portfolio", ("id",)),
            needs_user=True,
            owner=portfolio_owned,
            derive=portfolio_valuation,
        ),
        replace=True,
    )
