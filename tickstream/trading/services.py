"""Writes of the paper venue. The database holds the truth: balances, orders and fills
change only here, each change in one transaction under row locks, published to the owner's
`orders` channel on commit.

Two kinds of writer meet here:

- the owner (API, websocket, page) places and cancels orders: checked by the pure core,
  funds reserved at placement, released on cancel;
- the matching engine (`hook.py`) records what the market did to the orders: fills,
  closes and triggers. It writes only over the order `version` it knows, so an order that
  changed meanwhile (cancelled by its owner, filled by another engine) is never filled
  twice: the engine is told the write was stale and reloads the order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickstream.common.core.edge import FieldError
from tickstream.common.core.errors import CodedError
from tickstream.market.core.messages import money_text
from tickstream.market.core.ticks import ns_to_datetime
from tickstream.market.models import Instrument
from tickstream.portfolio.core.costbasis import Kind
from tickstream.portfolio.core.records import Record
from tickstream.portfolio.models import Portfolio
from tickstream.portfolio.services import PortfolioError, transaction_add
from tickstream.stream.notices import notify
from tickstream.stream.publish import publish
from tickstream.trading import selectors, shapes
from tickstream.trading.core import matching
from tickstream.trading.core import orders as core
from tickstream.trading.core.events import Liquidity, OrderFilled
from tickstream.trading.core.requests import OrderRequest, order_request
from tickstream.trading.core.sessions import session_end
from tickstream.trading.models import (
    Balance,
    EngineBeat,
    Fill,
    Order,
    TradingAccount,
    Transfer,
)

log = logging.getLogger(__name__)
ZERO = Decimal(0)
MAX_TRANSFER = Decimal(10) ** 12
ENGINE_NOTICES = "trading.engine"  # placed and cancelled orders, for the matching engine


class TradingError(CodedError):
    """A change the venue refuses; `code` (and `field`) say why, `status` is the HTTP one."""


# --- accounts and paper money ---


def account_get_or_create(*, user: Any) -> TradingAccount:
    """The user's paper account; a new one starts with TRADING_START_BALANCE USD. Read
    without a transaction when it exists (on SQLite every transaction takes the write
    lock, which every request that reads the account would then queue for)."""
    account = TradingAccount.objects.filter(owner=user).first()
    if account is None:
        return _account_create(user)
    account.owner = user  # (known: what publishes to its channel needs no read of it)
    return account


@transaction.atomic
def _account_create(user: Any) -> TradingAccount:
    account, created = TradingAccount.objects.get_or_create(owner=user)
    if created and settings.TRADING_START_BALANCE > 0:
        transfer_make(account=account, amount=settings.TRADING_START_BALANCE)
    return account


def _balances_locked(account: TradingAccount, currencies: set[str]) -> dict[str, Balance]:
    """The account's balances in these currencies, created if missing, locked in a fixed
    order (so two writers never wait on each other in a cycle)."""
    rows = Balance.objects.select_for_update().filter(account=account, currency__in=currencies)
    found = {b.currency: b for b in rows.order_by("currency")}
    if len(found) == len(currencies):
        return found
    for currency in currencies - set(found):  # a first deposit or a first asset
        Balance.objects.get_or_create(account=account, currency=currency)
    return {b.currency: b for b in rows.all().order_by("currency")}


def _publish(account: TradingAccount, event: str, **data: Any) -> None:
    """Tell the owner's `orders` channel, on commit."""
    message = {"event": event, **data, "balances": selectors.balance_list(account)}
    publish("orders", message, user=account.owner)


def _portfolio_record(account: TradingAccount, record: Record) -> None:
    """Record a fill or transfer in the linked portfolio, in the same transaction, after
    everything the portfolio holds (a trade's time may be up to the reorder tolerance
    older than the last one's): its trade-time order is the account's, so the portfolio
    never sells before it bought nor spends before it was paid, and the record is the
    kept replay's O(log n) append. A portfolio that still cannot take it (edited by hand
    so a sale finds nothing to sell) does not stop the venue: its savepoint is rolled
    back and the refusal logged."""
    if account.portfolio_id is None:
        return
    portfolio = Portfolio.objects.get(pk=account.portfolio_id)
    latest = (
        portfolio.transactions.order_by("-time").values_list("time", flat=True).first()
    )  # the (portfolio, time) index: O(log n)
    if latest is not None and record.time <= latest:
        record = replace(record, time=latest + timedelta(microseconds=1))
    try:
        with transaction.atomic():
            transaction_add(portfolio=portfolio, record=record)
    except PortfolioError as exc:
        log.warning(
            "portfolio %s refused the paper %s: %s (%s)",
            portfolio.pk,
            record.kind.value,
            exc.message,
            exc.code,
        )


@transaction.atomic
def transfer_make(*, account: TradingAccount, amount: Decimal, currency: str = "USD") -> Balance:
    """Paper cash in (amount > 0) or out (< 0, at most what is available)."""
    if currency != "USD":
        raise TradingError("bad_currency", "paper cash is USD", field="currency")
    if amount == 0 or abs(amount) >= MAX_TRANSFER:
        raise TradingError(
            "out_of_range", f"amount must be non-zero and below {MAX_TRANSFER:,.0f}", field="amount"
        )
    balance = _balances_locked(account, {currency})[currency]
    if balance.available + amount < 0:
        raise TradingError(
            "insufficient_funds",
            f"{money_text(-amount, currency, rounding=ROUND_UP)} is more than the "
            f"{money_text(balance.available, currency, rounding=ROUND_DOWN)} available",
            field="amount",
        )
    balance.available += amount
    balance.save(update_fields=["available"])
    Transfer.objects.create(account=account, currency=currency, amount=amount)
    kind = Kind.DEPOSIT if amount > 0 else Kind.WITHDRAWAL
    _portfolio_record(account, Record(timezone.now(), kind, "", abs(amount), ZERO, ZERO))
    _publish(account, "balance")
    return balance


@transaction.atomic
def account_link(*, account: TradingAccount, portfolio: Portfolio | None) -> TradingAccount:
    """Record every later fill and transfer in `portfolio` (None: in none)."""
    if portfolio is not None and portfolio.owner_id != account.owner_id:
        raise TradingError("not_found", "no such portfolio of yours", status=404, field="portfolio")
    account.portfolio = portfolio
    account.save(update_fields=["portfolio"])
    return account


# --- placing and cancelling ---


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    created: bool  # False: the same client_order_id again, the first order returned


def order_place_from(*, user: Any, data: Any) -> Placed:
    """Place an order from a client's fields (REST body, websocket frame, page form)."""
    if not isinstance(data, dict):
        raise TradingError("malformed_body", "an order must be a JSON object")
    try:
        request = order_request(data)
    except FieldError as exc:
        raise TradingError(exc.code, exc.message, field=exc.field) from None
    return order_place(account=account_get_or_create(user=user), request=request)


def _refuse(exc: matching.OrderError) -> TradingError:
    return TradingError(exc.code, str(exc))


def _pure(order_request: OrderRequest, account: TradingAccount) -> core.Order:
    r = order_request
    return core.Order(
        id=0,
        account=account.pk,
        symbol=r.symbol,
        side=r.side,
        type=r.type,
        quantity=r.quantity,
        price=r.price,
        stop_price=r.stop_price,
        tif=r.time_in_force,
    )


def order_place(
    *, account: TradingAccount, request: OrderRequest, now: datetime | None = None
) -> Placed:
    """Accept an order: checked against its instrument, the user's limits and funds, which
    are reserved. Refused with `trading_unavailable` when no engine runs to match it."""
    now = now or timezone.now()
    if request.client_order_id:
        first = account.orders.filter(client_order_id=request.client_order_id).first()
        if first is not None:
            return Placed(first, created=False)
    instrument = Instrument.objects.filter(symbol=request.symbol).first()
    if instrument is None:
        raise TradingError(
            "unknown_instrument", f"{request.symbol} is not traded here", field="symbol"
        )
    if not instrument.active:
        raise TradingError(
            "market_closed", f"{request.symbol} is not trading now", status=409, field="symbol"
        )
    market = selectors.market_of(instrument)
    pure = _pure(request, account)
    try:
        matching.check_order(pure, market)
    except matching.OrderError as exc:
        raise _refuse(exc) from None
    if not selectors.engine_running(now):
        raise TradingError(
            "trading_unavailable",
            "no matching engine is running: the order would never fill",
            status=503,
        )
    return _place_locked(account, instrument, market, pure, request, now)


@transaction.atomic
def _place_locked(
    account: TradingAccount,
    instrument: Instrument,
    market: matching.Market,
    pure: core.Order,
    request: OrderRequest,
    now: datetime,
) -> Placed:
    TradingAccount.objects.select_for_update().filter(pk=account.pk).first()  # one at a time
    if request.client_order_id:  # placed while this one waited for the lock
        first = account.orders.filter(client_order_id=request.client_order_id).first()
        if first is not None:
            return Placed(first, created=False)
    # Two counts, each on its index: the orders of the last second, and the open ones
    # (at most TRADING_MAX_OPEN_ORDERS): never the account's whole history.
    recent = account.orders.filter(created_at__gt=now - timedelta(seconds=1)).count()
    open_orders = account.orders.filter(status__in=selectors.OPEN_STATUSES).count()
    if recent >= settings.TRADING_ORDERS_PER_SECOND:
        raise TradingError(
            "rate_limited",
            f"at most {settings.TRADING_ORDERS_PER_SECOND} orders a second",
            status=429,
        )
    if open_orders >= settings.TRADING_MAX_OPEN_ORDERS:
        raise TradingError(
            "too_many_open_orders",
            f"at most {settings.TRADING_MAX_OPEN_ORDERS} open orders",
            status=409,
        )
    try:
        needs_last = pure.side is core.Side.BUY and pure.type is core.OrderType.MARKET
        last = selectors.last_price(instrument) if needs_last else None
        currency, amount = matching.reservation(pure, market, selectors.rules(), last)
    except matching.OrderError as exc:
        raise _refuse(exc) from None
    balance = _balances_locked(account, {currency})[currency]
    if balance.available < amount:
        raise TradingError(
            "insufficient_funds",
            f"This order reserves {money_text(amount, currency, rounding=ROUND_UP)}; "
            f"{money_text(balance.available, currency, rounding=ROUND_DOWN)} is available.",
        )
    balance.available -= amount
    balance.reserved += amount
    balance.save(update_fields=["available", "reserved"])
    expires = None
    if pure.tif is core.TimeInForce.DAY:
        expires = session_end(instrument.kind, now)
    order = Order.objects.create(
        account=account,
        instrument=instrument,
        side=pure.side.value,
        type=pure.type.value,
        quantity=pure.quantity,
        price=pure.price,
        stop_price=pure.stop_price,
        time_in_force=pure.tif.value,
        client_order_id=request.client_order_id,
        held_currency=currency,
        held=amount,
        expires_at=expires,
    )
    _publish(account, "order", order=shapes.ORDER.dump(order))
    _tell_engine(order)
    return Placed(order, created=True)


def _release(order: Order, balances: dict[str, Balance]) -> None:
    """What the order still holds goes back to available."""
    balance = balances[order.held_currency]
    balance.reserved -= order.held
    balance.available += order.held
    order.held = ZERO


def _transition(order: Order, status: core.Status) -> None:
    """Through the state machine's table: an illegal change raises, never saves."""
    core.check_transition(order.pk, core.Status(order.status), status)
    order.status = status.value


@transaction.atomic
def account_reset(*, account: TradingAccount, amount: Decimal) -> TradingAccount:
    """Start the paper account over with `amount` USD, as a broker's paper reset does:
    every open order cancelled, every asset and the cash set by transfers (so balances
    still add up to transfers and fills), and a linked portfolio unlinked (it keeps its
    history; its holdings would no longer be the account's). O(open orders + balances)."""
    if amount < 0 or amount >= MAX_TRANSFER:
        raise TradingError(
            "out_of_range",
            f"amount must be 0 or more and below {MAX_TRANSFER:,.0f}",
            field="amount",
        )
    TradingAccount.objects.select_for_update().filter(pk=account.pk).first()  # one at a time
    for order in account.orders.filter(status__in=selectors.OPEN_STATUSES).select_for_update():
        balances = _balances_locked(account, {order.held_currency})
        _close(order, core.Status.CANCELLED, "cancelled: the account was reset", balances)
        _tell_engine(order)
    account.portfolio = None
    account.save(update_fields=["portfolio"])
    currencies = set(account.balances.values_list("currency", flat=True)) | {"USD"}
    for currency, balance in _balances_locked(account, currencies).items():
        target = amount if currency == "USD" else ZERO
        change = target - balance.available
        if change:
            Transfer.objects.create(account=account, currency=currency, amount=change)
            balance.available = target
            balance.save(update_fields=["available"])
    _publish(account, "balance")
    return account


@transaction.atomic
def order_cancel(*, order: Order) -> Order:
    """Cancel an open order and release its funds; `not_cancellable` otherwise."""
    order = Order.objects.select_for_update().select_related("instrument").get(pk=order.pk)
    if not order.is_open:
        raise TradingError("not_cancellable", f"order {order.pk} is {order.status}", status=409)
    account = order.account
    balances = _balances_locked(account, {order.held_currency})
    _close(order, core.Status.CANCELLED, "cancelled by its owner", balances)
    _publish(account, "order", order=shapes.ORDER.dump(order))
    _tell_engine(order)
    return order


def _tell_engine(order: Order) -> None:
    """Hand the order to the matching engine once this transaction commits (its poll
    finds it too, TRADING_POLL_S later, should the notice be lost)."""
    notice = {"type": "trading.order", "id": order.pk, "version": order.version}
    notice |= {"open": order.is_open}
    if order.is_open:
        notice["order"] = selectors.order_notice(order)
    notify(ENGINE_NOTICES, notice)


def _close(order: Order, status: core.Status, reason: str, balances: dict[str, Balance]) -> None:
    _transition(order, status)
    _release(order, balances)
    order.reason = reason
    _save(order, balances)


def _save(order: Order, balances: dict[str, Balance]) -> None:
    """One more version of the order, with the balances it moved."""
    order.version += 1
    order.save()
    for balance in balances.values():
        balance.save()


# --- what the engine records ---


def _engine_locked(order_id: int, version: int) -> Order | None:
    """The order, locked, if it is still open at the version the engine knows."""
    order = (
        Order.objects.select_for_update()
        .select_related("instrument", "account")
        .filter(pk=order_id)
        .first()
    )
    if order is None or order.version != version or not order.is_open:
        return None
    return order


def fill_record(*, version: int, filled: OrderFilled) -> bool:
    """Store one fill the engine made, with the balance moves it made, in one transaction.
    False (and nothing written) when the order changed since the engine read it."""
    try:
        with transaction.atomic():
            return _fill_locked(version, filled)
    except IntegrityError:  # this trade filled this order already: another engine's copy
        log.warning("order %s: trade %s filled it already", filled.order, filled.fill.trade)
        return False


def _fill_locked(version: int, filled: OrderFilled) -> bool:
    fill = filled.fill
    order = _engine_locked(fill.order, version)
    if order is None:
        return False
    account = order.account
    market = selectors.market_of(order.instrument)
    if filled.released > order.held or order.filled + fill.quantity > order.quantity:
        log.error("order %s: a fill beyond what it holds was refused (%s)", order.pk, fill)
        return False
    balances = _balances_locked(account, {move.currency for move in filled.moves})
    for move in filled.moves:  # as the engine made them: no money computed twice
        balance = balances[move.currency]
        balance.available += move.available
        balance.reserved += move.reserved
        balance.fees += move.fees
    value = fill.price * fill.quantity
    order.held -= filled.released
    order.filled += fill.quantity
    order.notional += value
    if fill.liquidity is Liquidity.TAKER:
        order.taker_notional += value
    order.fees += fill.fee
    if order.filled == order.quantity:
        _transition(order, core.Status.FILLED)
        _release(order, balances)  # a limit buy's fee reserve left over at a maker fee
    else:
        _transition(order, core.Status.PARTIALLY_FILLED)
    _save(order, balances)
    time = ns_to_datetime(filled.ts_event)
    buy = fill.side is core.Side.BUY
    row = Fill.objects.create(
        order=order,
        account=account,
        price=fill.price,
        quantity=fill.quantity,
        fee=fill.fee,
        fee_currency=market.quote,
        liquidity=fill.liquidity.value,
        trade=fill.trade,
        time=time,
    )
    kind = Kind.BUY if buy else Kind.SELL
    _portfolio_record(
        account,
        Record(
            min(time, timezone.now()),
            kind,
            market.symbol,
            fill.quantity,
            fill.price,
            fill.fee,
            f"paper order {order.pk}",
        ),
    )
    _publish(account, "fill", order=shapes.ORDER.dump(order), fill=shapes.FILL.dump(row))
    return True


@transaction.atomic
def order_close_record(*, order_id: int, version: int, status: core.Status, reason: str) -> bool:
    """The engine ended an order (IOC or FOK remainder, a collar, its session): funds
    released. False when the order changed since the engine read it."""
    order = _engine_locked(order_id, version)
    if order is None:
        return False
    balances = _balances_locked(order.account, {order.held_currency})
    _close(order, status, reason, balances)
    _publish(order.account, "order", order=shapes.ORDER.dump(order))
    return True


@transaction.atomic
def order_trigger_record(*, order_id: int, version: int) -> bool:
    """A stop's price traded: it works as a market or limit order from now on."""
    order = _engine_locked(order_id, version)
    if order is None:
        return False
    order.triggered = True
    order.version += 1
    order.save(update_fields=["triggered", "version", "updated_at"])
    _publish(order.account, "order", order=shapes.ORDER.dump(order))
    return True


def engine_beat(*, name: str, started_at: datetime) -> None:
    """The engine is alive (orders are refused when no engine said so lately)."""
    EngineBeat.objects.update_or_create(
        name=name, defaults={"started_at": started_at, "seen_at": timezone.now()}
    )


def engine_gone(*, name: str) -> None:
    EngineBeat.objects.filter(name=name).delete()
