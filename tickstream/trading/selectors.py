"""Reads of the paper venue, and the JSON shapes the API, the websocket and the page
share (decimals as strings, times as ISO 8601 UTC)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from tickstream.market.models import Instrument, Quote
from tickstream.trading.core.matching import Market, Rules, market_base
from tickstream.trading.core.orders import OPEN
from tickstream.trading.models import Balance, EngineBeat, Fill, Order, TradingAccount
from tickstream.trading.shapes import BALANCE, FILL, ORDER

OPEN_STATUSES = [s.value for s in OPEN]
RECENT_FILLS = 50


def rules() -> Rules:
    """The venue's fees, slippage and fill model, from settings."""
    return Rules(
        maker_bps=settings.TRADING_MAKER_BPS,
        taker_bps=settings.TRADING_TAKER_BPS,
        slippage_bps=settings.TRADING_SLIPPAGE_BPS,
        participation=settings.TRADING_PARTICIPATION,
        queue_factor=settings.TRADING_QUEUE_FACTOR,
        collar_bps=settings.TRADING_COLLAR_BPS,
    )


def base_currency(instrument: Instrument) -> str:
    """What buying the instrument gets: `BTC` of `BTC-USD`, a stock's own symbol."""
    return market_base(instrument.symbol, instrument.kind != Instrument.Kind.STOCK)


def market_of(instrument: Instrument) -> Market:
    return Market(
        symbol=instrument.symbol,
        base=base_currency(instrument),
        quote=instrument.quote_currency,
        tick=instrument.tick_size.normalize(),
        step=instrument.quantity_step.normalize(),
    )


def markets() -> list[Market]:
    """Every instrument the venue trades."""
    return [market_of(i) for i in Instrument.objects.all()]


def last_price(instrument: Instrument) -> Decimal | None:
    quote = Quote.objects.filter(instrument=instrument).only("last").first()
    return None if quote is None else quote.last


def engine_running(now: Any = None) -> bool:
    """Whether a matching engine said it was alive within TRADING_ENGINE_TIMEOUT_S."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.TRADING_ENGINE_TIMEOUT_S)
    return EngineBeat.objects.filter(seen_at__gte=since).exists()


def account_for(user: Any) -> TradingAccount | None:
    return TradingAccount.objects.filter(owner=user).first()


def open_orders() -> QuerySet[Order]:
    """Every open order of the venue, oldest first (the engine's queue order)."""
    return (
        Order.objects.filter(status__in=OPEN_STATUSES).select_related("instrument").order_by("id")
    )


def order_for(user: Any, order_id: int) -> Order | None:
    """One of the user's orders (another user's is None, as if it did not exist)."""
    return (
        Order.objects.select_related("instrument").filter(pk=order_id, account__owner=user).first()
    )


def order_list(*, account: TradingAccount, status: str | None = None) -> QuerySet[Order]:
    orders = account.orders.select_related("instrument")
    if status == "open":
        return orders.filter(status__in=OPEN_STATUSES)
    if status:
        return orders.filter(status=status)
    return orders


def fill_list(*, account: TradingAccount, limit: int = RECENT_FILLS) -> QuerySet[Fill]:
    return account.fills.select_related("order__instrument")[:limit]


def balance_list(account: TradingAccount) -> list[dict[str, Any]]:
    """Cash first (the quote currencies), then assets by name; empty assets left out."""
    rows = [b for b in account.balances.all() if b.available or b.reserved or b.currency == "USD"]
    if not any(b.currency == "USD" for b in rows):
        rows.append(Balance(currency="USD"))  # cash is always shown, even before a deposit
    return [BALANCE.dump(b) for b in sorted(rows, key=lambda b: (b.currency != "USD", b.currency))]


def account_data(account: TradingAccount) -> dict[str, Any]:
    return {
        "id": account.pk,
        "portfolio": account.portfolio_id,
        "balances": balance_list(account),
        "open_orders": order_list(account=account, status="open").count(),
        "engine": "running" if engine_running() else "unavailable",
    }


def orders_snapshot(account: TradingAccount | None) -> dict[str, Any]:
    """The `orders` channel's first message: balances, open orders, the latest fills."""
    if account is None:
        return {"balances": [], "orders": [], "fills": []}
    return {
        "balances": balance_list(account),
        "orders": [ORDER.dump(o) for o in order_list(account=account, status="open")],
        "fills": [FILL.dump(f) for f in fill_list(account=account, limit=20)],
    }


def order_notice(row: Any) -> dict[str, Any]:
    """What the engine is told of an order when its transaction commits: the row as the
    engine holds it, so a new order is taken in without reading it back."""
    held = {
        "held": str(row.held),
        "version": row.version,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "created_at": row.created_at.isoformat(),
    }
    return {
        "id": row.pk,
        "account": row.account_id,
        "symbol": row.instrument.symbol,
        "side": row.side,
        "type": row.type,
        "quantity": str(row.quantity),
        "price": None if row.price is None else str(row.price),
        "stop_price": None if row.stop_price is None else str(row.stop_price),
        "tif": row.time_in_force,
        "filled": str(row.filled),
        "notional": str(row.notional),
        "taker_notional": str(row.taker_notional),
        "fees": str(row.fees),
        "status": row.status,
        "triggered": row.triggered,
    } | held
