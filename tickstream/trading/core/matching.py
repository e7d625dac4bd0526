"""The paper venue's matching engine (pure: no Django, no asyncio).

Orders fill against the live trade stream, as `docs/trading.md` states and its tests check:

- a **market** order fills on the next trades at the trade price moved against it by the
  slippage (`Rules.slippage_bps`), rounded to the tick against it, as taker;
- a **limit** order is *marketable* if it crosses the market when it arrives (a buy at or
  above the last trade, a sell at or below): it then takes liquidity like a market order,
  its price capped at its limit, until it fills or the market leaves it behind. Any other
  limit *rests*: it fills at its own price, as maker, when the market trades through it,
  or at its price once the volume traded there has passed its place in the queue
  (`Rules.queue_factor` x its quantity): touching is not filling;
- a **stop** (or stop-limit) triggers when a trade reaches its stop price and becomes a
  market (or limit) order from the next trade on; its time in force (IOC, FOK) applies
  from that trade;
- every trade's volume is shared among the orders it fills, market orders first, then
  limits by price and time, up to `Rules.participation` of its size: a large order fills
  over several trades;
- **IOC** orders keep what filled on their first trade and the rest is cancelled; **FOK**
  orders fill completely on that trade or not at all; **DAY** orders expire with
  `expire_day`.

Fees are charged per order, not per fill: after each fill the order has been charged its
fee rate times its filled value (maker and taker parts at their rates), rounded up once to
the instrument's money unit (tick x step). A fill pays the rounded total less what the
order paid before, so no fill is charged a negative fee and no order is charged more than
its rate says, however it is split.

Funds are reserved at placement (buys: quantity x limit price, or x the last price plus a
collar for market buys, plus the highest fee; sells: the asset) in the `Ledger` and
released when an order closes, so balances never go negative and nothing is created or
lost. Resting orders are kept in lists sorted by price: a trade finds what it fills, and
what it triggers, by bisection, O(log n + k).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from tickstream.common.core.errors import CodedError
from tickstream.trading.core.events import (
    Fill,
    Liquidity,
    OrderClosed,
    OrderEvent,
    OrderFilled,
    OrderTriggered,
)
from tickstream.trading.core.ledger import Ledger, LedgerError
from tickstream.trading.core.orders import (
    ZERO,
    Order,
    OrderType,
    Side,
    Status,
    TimeInForce,
)

BPS = Decimal(10_000)
MONEY_UNIT = Decimal("1e-10")  # balances, fees and values keep ten decimals
_WIDE = Context(prec=80)  # the order's fee before rounding, exactly


# Why the engine ended an order (OrderClosed.reason), in the words the owner reads.
FILLED = "filled"
EXPIRED = "its session ended"
IOC_REST = "IOC: the rest was cancelled after its first trade"
FOK_REST = "FOK: it could not fill completely on one trade"
COLLAR = "the price moved past the funds reserved for it"


class OrderError(CodedError):
    """An order the venue refuses; `code` says why."""


def market_base(symbol: str, pair: bool) -> str:
    """What buying an instrument gets: `BTC` of the crypto pair `BTC-USD`, `EUR` of the
    exchange rate `EUR-USD`, else the instrument itself (a stock's own symbol)."""
    return symbol.split("-", 1)[0] if pair and "-" in symbol else symbol


@dataclass(frozen=True, slots=True)
class Market:
    """What the venue needs of an instrument: its currencies and its steps."""

    symbol: str
    base: str  # what is bought: "BTC", or the stock's symbol
    quote: str  # what it is paid in: "USD"
    tick: Decimal  # price step
    step: Decimal  # quantity step
    min_quantity: Decimal | None = None  # default: one step


@dataclass(frozen=True, slots=True)
class Rules:
    maker_bps: Decimal = Decimal(10)
    taker_bps: Decimal = Decimal(20)
    slippage_bps: Decimal = Decimal(5)
    participation: Decimal = Decimal(1)  # share of each trade's size orders may take
    queue_factor: Decimal = Decimal(1)  # volume ahead at the price, x the order's quantity
    collar_bps: Decimal = Decimal(500)  # market buys reserve at the last price plus this


def check_order(order: Order, market: Market) -> None:
    """The order's quantity, prices and time in force against its instrument's steps;
    OrderError with a code (`unsupported_instrument`, `bad_step`, `below_minimum`,
    `bad_price`, `bad_time_in_force`) otherwise."""
    if market.tick * market.step < MONEY_UNIT:
        raise OrderError(
            "unsupported_instrument",
            f"{market.symbol}: price step x quantity step is below {MONEY_UNIT}, the smallest"
            " amount a balance keeps exactly",
        )
    minimum = market.min_quantity or market.step
    if order.quantity <= 0 or order.quantity % market.step:
        raise OrderError("bad_step", f"quantity must be a multiple of {market.step}")
    if order.quantity < minimum:
        raise OrderError("below_minimum", f"quantity must be at least {minimum}")
    needs_price = order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
    for name, value, needed in (
        ("price", order.price, needs_price),
        ("stop_price", order.stop_price, needs_stop),
    ):
        if needed and (value is None or value <= 0):
            raise OrderError("bad_price", f"a {order.type} order needs a {name} above 0")
        if not needed and value is not None:
            raise OrderError("bad_price", f"a {order.type} order has no {name}")
        if value is not None and value % market.tick:
            raise OrderError("bad_step", f"{name} must be a multiple of {market.tick}")
    if order.type is OrderType.MARKET and order.tif is TimeInForce.DAY:
        raise OrderError("bad_time_in_force", "a market order is IOC, FOK or GTC")


def held_currency(order: Order, market: Market) -> str:
    """What an order holds while open: the asset for a sell, the cash for a buy."""
    return market.base if order.side is Side.SELL else market.quote


def reservation(
    order: Order, market: Market, rules: Rules, last: Decimal | None
) -> tuple[str, Decimal]:
    """What placing the order reserves: (currency, amount). Sells hold the asset; buys
    hold quantity x price plus the highest fee, the price being the limit, or for market
    and stop orders the stop price or the `last` trade plus the collar. OrderError
    `no_price` when a market buy has no price to reserve at."""
    if order.side is Side.SELL:
        return held_currency(order, market), order.quantity
    worst_fee = max(rules.maker_bps, rules.taker_bps) / BPS
    if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        assert order.price is not None  # noqa: S101 - checked by check_order
        price = order.price
    else:
        reference = order.stop_price if order.type is OrderType.STOP else None
        reference = reference or last
        if reference is None:
            raise OrderError("no_price", f"{order.symbol} has not traded yet")
        price = _WIDE.multiply(reference, 1 + rules.collar_bps / BPS)
    # Wide enough for any quantity and price within their columns' bounds: a product past
    # every balance is refused by the funds check, never an overflow of the context.
    cost = _WIDE.multiply(_WIDE.multiply(order.quantity, price), 1 + worst_fee)
    return held_currency(order, market), cost.quantize(
        market.tick * market.step, rounding=ROUND_CEILING, context=_WIDE
    )


def _waits_for_trigger(order: Order) -> bool:
    return order.type in (OrderType.STOP, OrderType.STOP_LIMIT) and not order.triggered


_Key = tuple[Decimal, int, int]  # (price, seq, order id), sorted ascending
_END = 1 << 62  # past every seq and order id


@dataclass(slots=True)
class _Book:
    """One symbol's open orders: bids by price descending (negated), asks ascending,
    stops by trigger, market orders by arrival."""

    bids: list[_Key] = field(default_factory=list)  # (-limit, seq, id)
    asks: list[_Key] = field(default_factory=list)  # (limit, seq, id)
    buy_stops: list[_Key] = field(default_factory=list)  # (stop, seq, id): trade >= stop
    sell_stops: list[_Key] = field(default_factory=list)  # (-stop, seq, id): trade <= stop
    market: list[int] = field(default_factory=list)
    fresh: list[int] = field(default_factory=list)  # IOC/FOK waiting for their first trade
    # Limits placed (or stop-limits triggered) through the market: until they fill or the
    # market leaves them behind, they take liquidity at the trades' prices (capped at
    # their limit) instead of filling at their limit as a resting order would.
    takers: set[int] = field(default_factory=set)
    last: Decimal | None = None


class Engine:
    """Every open order of the venue, matched against the trades it is given."""

    def __init__(self, markets: Iterable[Market], rules: Rules | None = None) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.rules = rules or Rules()
        self.ledger = Ledger()
        self.orders: dict[int, Order] = {}
        self.held: dict[int, Decimal] = {}  # what each open order has reserved
        self._books: dict[str, _Book] = {}
        self._seq = 0
        # What the engine did (fills, closes, triggers), typed and in order, each stamped
        # with the time of what caused it (`now_ns`): drained by the caller that stores it.
        self.events: list[OrderEvent] = []
        self.now_ns = 0

    def book(self, symbol: str) -> _Book:
        found = self._books.get(symbol)
        if found is None:
            found = self._books[symbol] = _Book()
        return found

    # --- placing and cancelling ---

    def check(self, order: Order) -> Market:
        """The order's fields against its instrument; OrderError with a code otherwise."""
        market = self.markets.get(order.symbol)
        if market is None:
            raise OrderError("unknown_instrument", f"{order.symbol} is not traded here")
        check_order(order, market)
        return market

    def place(self, order: Order) -> None:
        """Accept an order: checked, its funds reserved, put in the book. OrderError (and
        the order `rejected`) when it cannot be."""
        try:
            market = self.check(order)
            currency, amount = self._reservation(order, market)
            self.ledger.reserve(order.account, currency, amount)
        except (OrderError, LedgerError) as exc:
            order.transition(Status.REJECTED)
            if isinstance(exc, OrderError):
                raise
            raise OrderError("insufficient_funds", str(exc)) from None
        self._take_in(order, amount)

    def _take_in(self, order: Order, held: Decimal) -> None:
        """Index an accepted order, holding `held`, as placed now."""
        self._seq += 1
        order.seq = self._seq
        self.orders[order.id] = order
        self.held[order.id] = held
        book = self.book(order.symbol)
        if _waits_for_trigger(order):
            self._rest(book, order)
            return
        if order.tif in (TimeInForce.IOC, TimeInForce.FOK) and not order.filled:
            book.fresh.append(order.id)
        self._rest(book, order, book.last)

    def adopt(self, order: Order, held: Decimal) -> None:
        """Take in an order accepted elsewhere, whose funds (`held`) are reserved already
        (by the database): it is indexed as if placed now, holding exactly that much."""
        currency = held_currency(order, self.check(order))
        self.ledger.deposit(order.account, currency, held)
        self.ledger.reserve(order.account, currency, held)
        self._take_in(order, held)

    def forget(self, order_id: int) -> Order | None:
        """Drop an order that was closed or changed elsewhere, without a transition: out
        of its book, its reservation given back to where it came from."""
        order = self.orders.pop(order_id, None)
        if order is None:
            return None
        self._unindex(order)
        currency = held_currency(order, self.markets[order.symbol])
        held = self.held.pop(order_id, ZERO)
        if held:
            self.ledger.release(order.account, currency, held)
            self.ledger.deposit(order.account, currency, -held)
        return order

    def _reservation(self, order: Order, market: Market) -> tuple[str, Decimal]:
        return reservation(order, market, self.rules, self.book(order.symbol).last)

    def _rest(self, book: _Book, order: Order, last: Decimal | None = None) -> None:
        """Index an open order where it waits: stops by trigger, limits by price. A limit
        that crosses `last`, the market when it arrives, takes liquidity (`takers`)."""
        key_id = (order.seq, order.id)
        if _waits_for_trigger(order):
            assert order.stop_price is not None  # noqa: S101
            if order.side is Side.BUY:
                bisect.insort(book.buy_stops, (order.stop_price, *key_id))
            else:
                bisect.insort(book.sell_stops, (-order.stop_price, *key_id))
            return
        limit = order.limit
        if limit is None:  # market, or a triggered stop
            book.market.append(order.id)
            return
        order.queue_ahead = order.quantity * self.rules.queue_factor
        if last is not None and (limit >= last if order.side is Side.BUY else limit <= last):
            book.takers.add(order.id)
        if order.side is Side.BUY:
            bisect.insort(book.bids, (-limit, *key_id))
        else:
            bisect.insort(book.asks, (limit, *key_id))

    def drain(self) -> list[OrderEvent]:
        """The events since the last drain, in the order they happened."""
        events, self.events = self.events, []
        return events

    def cancel(self, order_id: int, ts_event: int = 0) -> Order:
        """Cancel an open order and release its funds; OrderError `not_cancellable`
        otherwise."""
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            raise OrderError("not_cancellable", f"order {order_id} is not open")
        self.now_ns = ts_event
        self._close(order, Status.CANCELLED, "cancelled by its owner")
        return order

    def expire_day(self, symbols: Iterable[str], ts_event: int = 0) -> list[Order]:
        """The session of these symbols ended: their open DAY orders expire."""
        self.now_ns = ts_event
        wanted = set(symbols)
        expired = [
            o
            for o in self.orders.values()
            if o.symbol in wanted and o.tif is TimeInForce.DAY and o.is_open
        ]
        for order in expired:
            self._close(order, Status.EXPIRED, EXPIRED)
        return expired

    def expire(self, order_id: int, ts_event: int = 0) -> Order:
        """Its session ended: an open order expires and its funds are released."""
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            raise OrderError("not_cancellable", f"order {order_id} is not open")
        self.now_ns = ts_event
        self._close(order, Status.EXPIRED, EXPIRED)
        return order

    def _close(self, order: Order, status: Status, reason: str) -> None:
        """End an order: out of its book, its reserved funds released."""
        order.transition(status)
        self.events.append(OrderClosed(order.id, status, reason, self.now_ns))
        self._unindex(order)
        currency = held_currency(order, self.markets[order.symbol])
        held = self.held.pop(order.id, ZERO)
        if held:
            self.ledger.release(order.account, currency, held)
        del self.orders[order.id]

    def _unindex(self, order: Order) -> None:
        """Take an order out of wherever it waits (by bisection on its own key)."""
        book = self.book(order.symbol)
        if _waits_for_trigger(order):
            assert order.stop_price is not None  # noqa: S101
            buy = order.side is Side.BUY
            keys = book.buy_stops if buy else book.sell_stops
            key = (order.stop_price if buy else -order.stop_price, order.seq, order.id)
        elif (limit := order.limit) is not None:
            buy = order.side is Side.BUY
            keys = book.bids if buy else book.asks
            key = (-limit if buy else limit, order.seq, order.id)
        else:
            keys, key = [], (ZERO, 0, 0)
        index = bisect.bisect_left(keys, key)
        if index < len(keys) and keys[index] == key:
            del keys[index]
        for ids in (book.market, book.fresh):
            if order.id in ids:
                ids.remove(order.id)
        book.takers.discard(order.id)

    # --- matching ---

    def on_trade(
        self, symbol: str, price: Decimal, size: Decimal, ref: str = "", ts_event: int = 0
    ) -> list[Fill]:
        """A trade of the live market (at `ts_event`): what it fills, triggers and ends.
        Returns the fills; order statuses change in place, and `events` tells it all."""
        self.now_ns = ts_event
        book = self._books.get(symbol)
        if book is None:
            self.book(symbol).last = price
            return []
        fills: list[Fill] = []
        budget = size * self.rules.participation
        fresh, book.fresh = book.fresh, []
        takers, book.takers = book.takers, set()
        budget = self._fill_market(book, price, budget, ref, fills)
        budget = self._fill_limits(book, price, size, budget, ref, fills, takers)
        for order_id in takers:  # still through the market: still taking
            order = self.orders.get(order_id)
            limit = None if order is None else order.limit
            if order is None or limit is None:
                continue
            if limit > price if order.side is Side.BUY else limit < price:
                book.takers.add(order_id)
        for order_id in fresh:  # IOC and FOK: the rest is cancelled after their trade
            order = self.orders.get(order_id)
            if order is not None and order.is_open:
                reason = FOK_REST if order.tif is TimeInForce.FOK else IOC_REST
                self._close(order, Status.CANCELLED, reason)
        self._trigger(book, price)
        book.last = price
        return fills

    def _fill_market(
        self, book: _Book, price: Decimal, budget: Decimal, ref: str, fills: list[Fill]
    ) -> Decimal:
        for order_id in list(book.market):
            if budget <= 0:
                break
            order = self.orders[order_id]
            market = self.markets[order.symbol]
            at = self._slipped(order, price, market)
            wanted = self._take(order, budget, market)
            quantity = self._affordable(order, at, wanted, market) if wanted > 0 else ZERO
            if order.tif is TimeInForce.FOK and quantity < order.remaining:
                continue  # all or nothing: cancelled after this trade
            if quantity > 0:
                fills.append(self._fill(order, at, quantity, Liquidity.TAKER, ref))
                budget -= quantity
            elif wanted > 0:
                # The reserved funds no longer pay for one step at this price (a move past
                # the collar): the rest is cancelled rather than left unfillable.
                self._close(order, Status.CANCELLED, COLLAR)
        return budget

    def _fill_limits(
        self,
        book: _Book,
        price: Decimal,
        size: Decimal,
        budget: Decimal,
        ref: str,
        fills: list[Fill],
        takers: set[int],
    ) -> Decimal:
        # Bids at or above the trade price (keys are -limit: a prefix), best first; asks
        # at or below it. Orders at the price itself end each prefix.
        bids_end = bisect.bisect_right(book.bids, (-price, _END, _END))
        asks_end = bisect.bisect_right(book.asks, (price, _END, _END))
        passed: dict[int, Decimal] = {}
        bids, asks = book.bids, book.asks
        if bids_end and bids[bids_end - 1][0] == -price:
            self._drain_queue(bids, bids_end, -price, size, takers, passed)
        if asks_end and asks[asks_end - 1][0] == price:
            self._drain_queue(asks, asks_end, price, size, takers, passed)
        crossing = (price, budget, ref, fills, takers, passed)
        budget = self._fill_side(book.bids, bids_end, *crossing)
        return self._fill_side(book.asks, asks_end, price, budget, *crossing[2:])

    def _drain_queue(
        self,
        keys: list[_Key],
        end: int,
        key: Decimal,
        size: Decimal,
        takers: set[int],
        passed: dict[int, Decimal],
    ) -> None:
        """The resting orders at the trade's price (the last keys before `end`): its whole
        size passes their place in line first (paper orders share only what is past it).
        Notes in `passed`, for each, how much of the trade was past its place. O(k) for
        the k orders at that price; nothing when none rests there."""
        index = end - 1
        while index >= 0 and keys[index][0] == key:
            order_id = keys[index][2]
            index -= 1
            if order_id in takers:
                continue
            order = self.orders[order_id]
            ahead = min(order.queue_ahead, size)
            order.queue_ahead -= ahead
            passed[order_id] = size - ahead

    def _fill_side(
        self,
        keys: list[_Key],
        end: int,
        price: Decimal,
        budget: Decimal,
        ref: str,
        fills: list[Fill],
        takers: set[int],
        passed: dict[int, Decimal],
    ) -> Decimal:
        """The first `end` keys cross the trade, best first: walked in place (an order
        that fills leaves the list as it goes), only as far as the trade's volume lasts."""
        i = 0
        while i < end and budget > 0:
            key = keys[i]
            budget = self._fill_key(key, price, budget, ref, fills, takers, passed)
            if i < len(keys) and keys[i] == key:
                i += 1
            else:
                end -= 1  # it filled and left the book
        return budget

    def _fill_key(
        self,
        key: _Key,
        price: Decimal,
        budget: Decimal,
        ref: str,
        fills: list[Fill],
        takers: set[int],
        passed: dict[int, Decimal],
    ) -> Decimal:
        """What one crossing limit order takes of the trade; returns the volume left."""
        order = self.orders[key[2]]
        limit = order.limit
        assert limit is not None  # noqa: S101 - only limits are in these lists
        market = self.markets[order.symbol]
        liquidity, at, available = Liquidity.MAKER, limit, budget
        if order.id in takers:
            # Marketable (it crossed the market when it arrived, and the market has not
            # left it behind): it takes liquidity like a market order whose slipped price
            # is capped at its limit.
            slipped = self._slipped(order, price, market)
            liquidity = Liquidity.TAKER
            at = min(limit, slipped) if order.side is Side.BUY else max(limit, slipped)
        elif limit == price:
            # At its price: only what traded past its place in line can fill it.
            available = min(budget, passed.get(order.id, ZERO))
        quantity = self._take(order, available, market)
        if order.tif is TimeInForce.FOK and quantity < order.remaining:
            return budget  # all or nothing: cancelled after this trade
        if quantity > 0:
            fills.append(self._fill(order, at, quantity, liquidity, ref))
            budget -= quantity
        return budget

    def _slipped(self, order: Order, price: Decimal, market: Market) -> Decimal:
        """A taker's price: the trade's, moved by the slippage against it, on the tick."""
        slip = self.rules.slippage_bps / BPS
        if order.side is Side.BUY:
            return (price * (1 + slip)).quantize(market.tick, rounding=ROUND_CEILING)
        return (price * (1 - slip)).quantize(market.tick, rounding=ROUND_FLOOR)

    def _take(self, order: Order, budget: Decimal, market: Market) -> Decimal:
        """How much of the order this trade's remaining volume fills, on its step."""
        quantity = min(order.remaining, budget)
        return (quantity // market.step) * market.step

    def _affordable(
        self, order: Order, price: Decimal, quantity: Decimal, market: Market
    ) -> Decimal:
        """A market buy fills no more than its reserved funds pay for."""
        if order.side is Side.SELL:
            return quantity
        fee = self.rules.taker_bps / BPS
        can = self.held[order.id] / (price * (1 + fee))
        return min(quantity, (can // market.step) * market.step)

    def _fill(
        self, order: Order, price: Decimal, quantity: Decimal, liquidity: Liquidity, ref: str
    ) -> Fill:
        market = self.markets[order.symbol]
        value = price * quantity
        fee = self._fee(order, value, liquidity, market)
        ledger = self.ledger
        if order.side is Side.BUY:
            # Never binds while the rates are those the order reserved for (a rate raised
            # since is capped by the reservation).
            fee = min(fee, self.held[order.id] - value)
            released = value + fee
            moves = (
                ledger.spend(order.account, market.quote, value, fee),
                ledger.receive(order.account, market.base, quantity),
            )
        else:
            fee = min(fee, value)
            released = quantity
            moves = (
                ledger.spend(order.account, market.base, quantity),
                ledger.receive(order.account, market.quote, value, fee),
            )
        self.held[order.id] -= released
        order.filled += quantity
        order.fees += fee
        fill = Fill(
            order.id, order.account, order.symbol, order.side, price, quantity, fee, liquidity, ref
        )
        self.events.append(OrderFilled(fill, released, moves, self.now_ns))
        if order.remaining == 0:
            self._close(order, Status.FILLED, FILLED)
        else:
            order.transition(Status.PARTIALLY_FILLED)
        return fill

    def _fee(self, order: Order, value: Decimal, liquidity: Liquidity, market: Market) -> Decimal:
        """What a fill of `value` pays: the order's fee on everything it has filled
        (maker and taker parts at their rates), rounded up once to the money unit, less
        what it paid before. Never negative: the total only grows."""
        order.notional += value
        if liquidity is Liquidity.TAKER:
            order.taker_notional += value
        maker = order.notional - order.taker_notional
        rules, wide = self.rules, _WIDE
        owed = wide.fma(
            maker, rules.maker_bps, wide.multiply(order.taker_notional, rules.taker_bps)
        )
        owed = wide.divide(owed, BPS)
        total = owed.quantize(market.tick * market.step, rounding=ROUND_CEILING)
        return max(ZERO, total - order.fees)

    def _trigger(self, book: _Book, price: Decimal) -> None:
        """Stops whose stop price this trade reached become market or limit orders."""
        hit: list[_Key] = []
        for keys, bound in ((book.buy_stops, price), (book.sell_stops, -price)):
            cut = bisect.bisect_right(keys, (bound, _END, _END))
            if cut:  # no copy of the list when nothing triggers
                hit += keys[:cut]
                del keys[:cut]
        for _, _, order_id in sorted(hit, key=lambda k: k[1]):
            order = self.orders[order_id]
            order.triggered = True
            self.events.append(OrderTriggered(order.id, self.now_ns))
            if order.tif in (TimeInForce.IOC, TimeInForce.FOK):
                book.fresh.append(order_id)  # their one trade is the next
            self._rest(book, order, price)
