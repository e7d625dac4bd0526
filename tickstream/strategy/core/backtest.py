"""A backtest (pure, deterministic): a strategy run over recorded trades with a simulated
clock, through the same market core (candles, incremental indicators) and the same
matching engine (fees, slippage, participation, queue position) as paper trading.

For each trade, in this order, as the running system does: the market core applies it;
the matching engine matches it against the open orders; the strategy hears what its
orders did (`on_order`, `on_fill`), then the trade (`on_trade`), then the candles it
closed (`on_candle`). An order asked for while handling a trade is taken in at once, so
it can fill from the next trade on: the latency of paper trading is not modelled yet.

Cost: O(trades x (matching + indicators + the strategy's hooks)); no sleeping, no wall
clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tickstream.market.core.analytics.indicators import IndicatorSpec
from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.core.ticks import Tick
from tickstream.market.core.validation import Rejection
from tickstream.strategy.core.api import Context, OrderAccepted, OrderRejected, Strategy
from tickstream.trading.core.events import Fill, OrderClosed, OrderFilled, OrderTriggered
from tickstream.trading.core.matching import Engine, Market, OrderError, Rules
from tickstream.trading.core.orders import Order, OrderType, Side, TimeInForce

ACCOUNT = 1


@dataclass(slots=True)
class Result:
    """What a run did: every fill in order, the final balances, and the equity (cash plus
    holdings at the last price) after each trade that moved it."""

    fills: list[tuple[str, Fill, int]] = field(default_factory=list)  # (order, fill, ns)
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    equity: list[tuple[int, Decimal]] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


class Backtest(Context):
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
    ) -> None:
        self.strategy = strategy
        self.market = MarketEngine(
            instruments, intervals, indicators, max_delay_s=None, reorder_tolerance_s=0
        )
        self.venue = Engine(markets, rules)
        self.markets = {m.symbol: m for m in markets}
        self._quotes = {m.quote for m in markets}  # cash
        self._priced_by = {m.base: m.symbol for m in markets}  # an asset -> its instrument
        for currency, amount in cash.items():
            self.venue.ledger.deposit(ACCOUNT, currency, amount)
        self.result = Result()
        self._now = 0
        self._ids: dict[int, str] = {}  # engine id -> client order id
        self._engine_ids: dict[str, int] = {}  # client order id -> engine id
        self._next = 0
        self._pending: list[tuple[str, object]] = []  # updates told after the current step

    # --- the Context a strategy sees ---

    @property
    def now_ns(self) -> int:
        return self._now

    def balance(self, currency: str) -> tuple[Decimal, Decimal]:
        b = self.venue.ledger.balance(ACCOUNT, currency)
        return b.available, b.reserved

    def position(self, symbol: str) -> Decimal:
        available, reserved = self.balance(self.markets[symbol].base)
        return available + reserved

    def open_orders(self) -> list[str]:
        return [self._ids[i] for i in sorted(self.venue.orders)]

    def last_price(self, symbol: str) -> Decimal | None:
        state = self.market.states.get(symbol)
        return None if state is None or state.quote.last is None else state.quote.last

    def indicators(self, symbol: str, interval: str) -> Mapping[str, float | None]:
        state = self.market.states.get(symbol)
        if state is None:
            return {}
        for series in state.series:
            if series.interval.name == interval:
                return dict(series.last_values)
        raise KeyError(f"interval {interval!r} is not kept in this run")

    def cancel(self, order: str) -> None:
        engine_id = self._engine_ids.get(order)
        if engine_id is None or engine_id not in self.venue.orders:
            return
        self.venue.cancel(engine_id, self._now)  # told once the current hook returns

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
        kind = type or (OrderType.LIMIT if price is not None else OrderType.MARKET)
        if kind is OrderType.MARKET and tif is TimeInForce.GTC:
            tif = TimeInForce.IOC
        order = Order(self._next, ACCOUNT, symbol, side, kind, quantity, price, stop_price, tif)
        self._ids[order.id] = client
        self._engine_ids[client] = order.id
        try:
            self.venue.place(order)
        except OrderError as exc:
            del self._ids[order.id], self._engine_ids[client]
            self.result.rejected.append((client, exc.code))
            self._pending.append((client, OrderRejected(exc.code, exc.message, self._now)))
        else:
            self._pending.append((client, OrderAccepted(self._now)))
        return client

    # --- the run ---

    def run(self, ticks: Iterable[Tick]) -> Result:
        """Play the trades in order; the result."""
        self.strategy.on_start(self)
        self._tell()
        for tick in ticks:
            self.step(tick)
        self.strategy.on_stop(self)
        self._tell()
        for currency, balance in self.venue.ledger.balances.items():
            if currency[0] == ACCOUNT:
                self.result.balances[currency[1]] = (balance.available, balance.reserved)
        return self.result

    def step(self, tick: Tick) -> None:
        """One trade, as the running system handles it."""
        update = self.market.process(tick, live=False)
        if isinstance(update, Rejection):  # refused by the market core: changes nothing
            return
        self._now = tick.ts_event
        ref = tick.trade_id or f"{tick.symbol}:{tick.ts_event}"
        self.venue.on_trade(tick.symbol, tick.price, tick.size, ref, tick.ts_event)
        moved = bool(self.venue.events)
        self._tell()
        self.strategy.on_trade(self, tick)
        self._tell()
        for closed in update.closed:
            self.strategy.on_candle(self, tick.symbol, closed)
            self._tell()
        if moved or not self.result.equity:
            self.result.equity.append((self._now, self._equity()))

    def _tell(self) -> None:
        """Hand the strategy what its orders did, in order (what it does meanwhile is
        told after)."""
        while self._pending or self.venue.events:
            for event in self.venue.drain():
                client = self._ids[event.order]
                if isinstance(event, OrderFilled):
                    self.result.fills.append((client, event.fill, event.ts_event))
                    self._pending.append((client, event.fill))
                elif isinstance(event, OrderClosed | OrderTriggered):
                    self._pending.append((client, event))
            pending, self._pending = self._pending, []
            for client, what in pending:
                if isinstance(what, Fill):
                    self.strategy.on_fill(self, client, what)
                else:
                    self.strategy.on_order(self, client, what)  # type: ignore[arg-type]

    def _equity(self) -> Decimal:
        """Cash and holdings valued at the last prices, in the quote currency.
        O(the account's currencies)."""
        total = Decimal(0)
        for (account, currency), b in self.venue.ledger.balances.items():
            if account != ACCOUNT:
                continue
            amount = b.available + b.reserved
            if currency in self._quotes:
                total += amount
                continue
            symbol = self._priced_by.get(currency)
            price = None if symbol is None else self.last_price(symbol)
            if price is not None:
                total += amount * price
        return total
