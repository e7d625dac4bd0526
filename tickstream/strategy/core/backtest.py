"""A backtest (pure, deterministic): a strategy run over recorded trades with a simulated
clock, through the same market core (candles, incremental indicators) and the same
matching engine (fees, slippage, participation, queue position) as paper trading.

For each trade, in this order, as paper trading sees it:

1. the orders and cancels whose latency has passed reach the venue (an order asked at
   `t` arrives at `t + latency`: before the first trade at or after that time);
2. the market core applies the trade, and the strategy hears it (`on_trade`, then
   `on_candle` for each candle it closed), with the account as it stood before the trade;
3. the venue matches the trade against the orders it holds (an order asked in step 2 is
   still on its way: it never meets the trade it reacted to);
4. the strategy hears what the venue did (`on_fill`, `on_order`): fills at this trade,
   and the answers to the orders that arrived.

With latency 0 (the paper runner's lockstep), what was asked while handling a trade
arrives before the next one. The venue's caps hold in simulated time: at most
`orders_per_second` orders a second, `max_open_orders` open.

Cost: O(trades x (matching + indicators + the strategy's hooks)) and O(1) per order in
flight; no sleeping, no wall clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tickstream.market.core.analytics.indicators import IndicatorSpec
from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.core.validation import Rejection
from tickstream.strategy.core.api import (
    Context,
    OrderAccepted,
    OrderRejected,
    ReadsMarket,
    Strategy,
    order_kind,
)
from tickstream.strategy.core.equity import EquityCurve
from tickstream.trading.core.events import Fill, OrderClosed, OrderFilled, OrderTriggered
from tickstream.trading.core.matching import Engine, Market, OrderError, Rules
from tickstream.trading.core.orders import Order, OrderType, Side, TimeInForce

ACCOUNT = 1
NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Limits:
    """The venue's caps on one account (the server's TRADING_ORDERS_PER_SECOND and
    TRADING_MAX_OPEN_ORDERS)."""

    orders_per_second: int = 10
    max_open_orders: int = 200


@dataclass(slots=True)
class Result:
    """What a run did: every fill in order, every order asked, the final balances, the
    equity (cash plus holdings at the last price) after each trade that moved it, the
    trades played and the time they span."""

    fills: list[tuple[str, Fill, int]] = field(default_factory=list)  # (order, fill, ns)
    orders: dict[str, Order] = field(default_factory=dict)  # by client order id
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    equity: list[tuple[int, Decimal]] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    trades: int = 0  # played: the market core took them
    trades_offered: int = 0  # with those it refused (their problems: `refused`)
    refused: dict[str, int] = field(default_factory=dict)
    first_ns: int | None = None
    last_ns: int | None = None


@dataclass(slots=True)
class _Asked:
    due: int  # when it reaches the venue
    client: str
    order: Order | None  # None: a cancel


class Backtest(ReadsMarket, Context):
    """One strategy, one account, the instruments it trades."""

    def __init__(
        self,
        strategy: Strategy,
        instruments: Sequence[InstrumentSpec],
        markets: Sequence[Market],
        *,
        intervals: Sequence[Interval],
        indicators: Sequence[IndicatorSpec],
        cash: Mapping[str, Decimal],
        rules: Rules | None = None,
        limits: Limits | None = None,
        latency_ms: Decimal = Decimal(0),
    ) -> None:
        if latency_ms < 0:
            raise ValueError("latency cannot be negative")
        self.strategy = strategy
        self.market = MarketEngine(
            instruments, intervals, indicators, max_delay_s=None, reorder_tolerance_s=0
        )
        self.venue = Engine(markets, rules)
        self.limits = limits or Limits()
        self.latency_ns = int(latency_ms * NS_PER_MS)
        self.markets = {m.symbol: m for m in markets}
        self._quotes = {m.quote for m in markets}  # cash
        self._priced_by = {m.base: m.symbol for m in markets}  # an asset -> its instrument
        for currency, amount in cash.items():
            self.venue.ledger.deposit(ACCOUNT, currency, amount)
        self.result = Result()
        self.progress: Callable[[int], None] | None = None  # told the trades played so far
        self._now = 0
        self._ids: dict[int, str] = {}  # engine id -> client order id
        self._engine_ids: dict[str, int] = {}  # client order id -> engine id
        self._next = 0
        self._in_flight: deque[_Asked] = deque()  # asked, not yet at the venue (FIFO)
        self._placed: deque[int] = deque()  # when the orders of the last second arrived
        self._told: list[tuple[str, object]] = []  # answers to tell after the current step
        self._stopped = False
        timer = strategy.timer_s
        if timer is not None and timer <= 0:
            raise ValueError("timer_s must be above 0")
        self._timer_ns = int(timer * NS_PER_S) if timer else 0
        self._next_timer: int | None = None
        self._holdings: tuple[Decimal, dict[str, Decimal]] | None = None
        self._curve = EquityCurve()
        self.result.equity = self._curve.points

    # --- the Context a strategy sees ---

    @property
    def now_ns(self) -> int:
        return self._now

    def balance(self, currency: str) -> tuple[Decimal, Decimal]:
        b = self.venue.ledger.balance(ACCOUNT, currency)
        return b.available, b.reserved

    def position(self, symbol: str) -> Decimal:
        market = self.markets.get(symbol)
        if market is None:
            raise KeyError(f"{symbol} is not traded in this run")
        available, reserved = self.balance(market.base)
        return available + reserved

    def open_orders(self) -> list[str]:
        """Open at the venue, and asked but not there yet."""
        at_venue = [self._ids[i] for i in sorted(self.venue.orders)]
        return at_venue + [a.client for a in self._in_flight if a.order is not None]

    def cancel(self, order: str) -> None:
        if order in self._engine_ids or any(a.client == order for a in self._in_flight):
            self._in_flight.append(_Asked(self._now + self.latency_ns, order, None))

    def log(self, message: str) -> None:
        self.result.logs.append((self._now, message))

    def order(
        self,
        side: Side,
        symbol: str,
        quantity: Decimal,
        *,
        price: Decimal | None = None,
        type: OrderType | None = None,
        stop_price: Decimal | None = None,
        tif: TimeInForce = TimeInForce.GTC,
    ) -> str:
        self._next += 1
        client = f"s{self._next}"
        kind, tif = order_kind(price, type, tif)
        order = Order(self._next, ACCOUNT, symbol, side, kind, quantity, price, stop_price, tif)
        self.result.orders[client] = order
        self._in_flight.append(_Asked(self._now + self.latency_ns, client, order))
        return client

    # --- the run ---

    def run(self, ticks: Iterable[Tick]) -> Result:
        """Play the trades in order, then stop (open orders are cancelled); the result."""
        self.strategy.on_start(self)
        for tick in ticks:
            self.step(tick)
        self.strategy.on_stop(self)
        self._stopped = True
        self.close()
        for currency, balance in self.venue.ledger.balances.items():
            if currency[0] == ACCOUNT:
                self.result.balances[currency[1]] = (balance.available, balance.reserved)
        return self.result

    def close(self) -> None:
        """The strategy stopped: what it asked reaches the venue, then every order it
        left open is cancelled (as paper trading does when a strategy stops)."""
        self._arrive(self._now + self.latency_ns)
        for engine_id in sorted(self.venue.orders):
            self.venue.cancel(engine_id, self._now)
        self._arrive(self._now + self.latency_ns)

    def step(self, tick: Tick) -> None:
        """One trade, as the running system handles it."""
        if self._timer_ns and self._next_timer is not None:
            while self._next_timer <= tick.ts_event and not self._stopped:
                self._now = self._next_timer
                self._arrive(self._now)
                self.strategy.on_timer(self)
                self._next_timer += self._timer_ns
        self._arrive(tick.ts_event)
        self.result.trades_offered += 1
        update = self.market.process(tick, live=False)
        if isinstance(update, Rejection):  # refused by the market core: changes nothing
            refused = self.result.refused
            refused[update.reason.value] = refused.get(update.reason.value, 0) + 1
            return
        self._now = tick.ts_event
        result = self.result
        result.trades += 1
        if result.first_ns is None:
            result.first_ns = tick.ts_event
            if self._timer_ns:
                self._next_timer = tick.ts_event + self._timer_ns
        result.last_ns = tick.ts_event
        self.strategy.on_trade(self, tick)
        for closed in update.closed:
            self.strategy.on_candle(self, tick.symbol, closed)
        ref = tick.trade_id or f"{tick.symbol}:{tick.ts_event}"
        self.venue.on_trade(tick.symbol, tick.price, tick.size, ref, tick.ts_event)
        moved = bool(self.venue.events)
        self._arrive(tick.ts_event)
        self._mark(moved, tick.symbol)
        if self.progress is not None:
            self.progress(result.trades)

    def _arrive(self, now: int) -> None:
        """What reached the venue by `now` is taken in, and the strategy hears what the
        venue did, in order; what it asks meanwhile with no latency arrives too."""
        while True:
            while self._in_flight and self._in_flight[0].due <= now:
                self._take_in(self._in_flight.popleft())
            for event in self.venue.drain():
                client = self._ids[event.order]
                if isinstance(event, OrderFilled):
                    self.result.fills.append((client, event.fill, event.ts_event))
                    self._told.append((client, event.fill))
                elif isinstance(event, OrderClosed | OrderTriggered):
                    self._told.append((client, event))
            if not self._told:
                return
            told, self._told = self._told, []
            if self._stopped:
                continue  # a stopped strategy hears nothing more
            for client, what in told:
                if isinstance(what, Fill):
                    self.strategy.on_fill(self, client, what)
                else:
                    self.strategy.on_order(self, client, what)  # type: ignore[arg-type]

    def _take_in(self, asked: _Asked) -> None:
        """An order or a cancel reaches the venue: checked against the caps, then the
        venue's own checks."""
        client, order = asked.client, asked.order
        if order is None:
            engine_id = self._engine_ids.get(client)
            if engine_id is not None and engine_id in self.venue.orders:
                self.venue.cancel(engine_id, self._now)
            return
        try:
            self._check_caps()
            self._ids[order.id] = client
            self._engine_ids[client] = order.id
            self.venue.place(order)
        except OrderError as exc:
            self._ids.pop(order.id, None)
            self._engine_ids.pop(client, None)
            self.result.rejected.append((client, exc.code))
            self._told.append((client, OrderRejected(exc.code, exc.message, self._now)))
        else:
            self._placed.append(self._now)
            self._told.append((client, OrderAccepted(self._now)))

    def _check_caps(self) -> None:
        placed, since = self._placed, self._now - NS_PER_S
        while placed and placed[0] <= since:
            placed.popleft()
        if len(placed) >= self.limits.orders_per_second:
            raise OrderError(
                "rate_limited", f"at most {self.limits.orders_per_second} orders a second"
            )
        if len(self.venue.orders) >= self.limits.max_open_orders:
            raise OrderError(
                "too_many_open_orders", f"at most {self.limits.max_open_orders} open orders"
            )

    def _mark(self, moved: bool, symbol: str) -> None:
        """Keep the equity after a trade that filled, or that moved what is held. What the
        account holds changes only with a fill, so it is summed again only then; between
        fills a trade costs one product per instrument held."""
        if moved or self._holdings is None:
            self._holdings = self._composition()
        elif not self._holdings[1] or symbol not in self._holdings[1]:
            return  # its value did not move
        cash, held = self._holdings
        value = cash
        for held_symbol, quantity in held.items():
            price = self.last_price(held_symbol)
            if price is not None:
                value += quantity * price
        self._curve.mark(self._now, value, keep=moved)

    def _composition(self) -> tuple[Decimal, dict[str, Decimal]]:
        """(cash, quantity held by instrument). O(the account's currencies)."""
        cash, held = Decimal(0), {}
        for (account, currency), b in self.venue.ledger.balances.items():
            if account != ACCOUNT:
                continue
            amount = b.available + b.reserved
            if currency in self._quotes:
                cash += amount
            elif amount and (symbol := self._priced_by.get(currency)) is not None:
                held[symbol] = amount
        return cash, held
