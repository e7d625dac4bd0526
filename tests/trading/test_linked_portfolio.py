"""A linked portfolio never refuses a paper fill and always equals the account: the
engine's random scripts (orders of every type and time in force, cancels, trades a little
out of order, reloads of orders from the database, deposits and withdrawals; conversions
of dollars to euros on EUR-USD and back, and a stock quoted in euros) run through
the services that the running venue uses, and after every step the portfolio's holdings,
cash and fees equal the account's, exactly. About 6,000 steps in all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as run
from hypothesis import strategies as st

from tests.factories import UserFactory
from tests.trading.conftest import beat
from tickstream.market.core.ticks import datetime_to_ns
from tickstream.market.models import Instrument, Quote
from tickstream.portfolio.core.costbasis import compute
from tickstream.portfolio.core.valuation import Basis
from tickstream.portfolio.kept import pure_transactions
from tickstream.portfolio.models import Portfolio
from tickstream.portfolio.selectors import portfolio_basis
from tickstream.portfolio.services import portfolio_create
from tickstream.trading import selectors, services
from tickstream.trading.core import matching
from tickstream.trading.core.events import OrderClosed, OrderFilled
from tickstream.trading.hook import pure_order
from tickstream.trading.models import Balance, Order

pytestmark = pytest.mark.django_db
D = Decimal
# (symbol, a price in ticks around which it trades, tick, quantity step)
SYMBOLS = {
    "AAPL": (D("0.01"), D(1), 20_000),
    "PENNY": (D("0.01"), D(1), 200),  # a fee under a cent a share: rounding matters
    "DOGE-USD": (D("0.00001"), D(1), 11_000),
    "BTC-USD": (D("0.01"), D("0.00001"), 6_725_000),
    # Euros are bought with dollars on EUR-USD, then spent on a stock quoted in euros.
    "EUR-USD": (D("0.00001"), D(1), 111_720),
    "SAP.DE": (D("0.01"), D(1), 23_640),
}


class Venue:
    """The running venue's loop, in one thread: orders placed through the service and
    taken by the engine, trades matched and every event recorded as the hook records it,
    orders reloaded from the database as the hook reloads a stale one."""

    def __init__(self) -> None:
        self.engine = matching.Engine(selectors.markets(), selectors.rules())
        self.versions: dict[int, int] = {}
        self.user = UserFactory()
        self.account = services.account_get_or_create(user=self.user)
        self.portfolio = portfolio_create(owner=self.user, name="Paper")
        services.account_link(account=self.account, portfolio=self.portfolio)
        self.clock = datetime.now(UTC) - timedelta(hours=1)
        self.fills = 0

    def transfer(self, amount: Decimal) -> None:
        try:
            services.transfer_make(account=self.account, amount=amount)
        except services.TradingError:
            pass

    def place(self, fields: dict[str, str]) -> None:
        try:
            row = services.order_place_from(user=self.user, data=fields).order
        except services.TradingError as exc:
            event(f"refused: {exc.code}")
            return
        self._adopt(row)

    def _adopt(self, row: Order) -> None:
        if row.is_open:
            self.engine.adopt(pure_order(row), row.held)
            self.versions[row.pk] = row.version

    def trade(self, symbol: str, price: Decimal, size: Decimal, late_ms: int) -> None:
        self.clock += timedelta(milliseconds=200)
        when = self.clock - timedelta(milliseconds=late_ms)  # within the reorder tolerance
        Quote.objects.update_or_create(
            instrument=Instrument.objects.get(symbol=symbol),
            defaults={"last": price, "open": price, "high": price, "low": price,
                      "volume": size, "time": when},
        )  # fmt: skip
        ts = datetime_to_ns(when)
        self.engine.on_trade(symbol, price, size, f"t{self.clock.timestamp()}", ts)
        for done in self.engine.drain():  # as the hook records them, in the engine's order
            if isinstance(done, OrderFilled):
                assert services.fill_record(version=self._next(done.order), filled=done)
                self.fills += 1
            elif isinstance(done, OrderClosed):
                if done.status is not matching.Status.FILLED:
                    assert services.order_close_record(
                        order_id=done.order, version=self._next(done.order),
                        status=done.status, reason=done.reason,
                    )  # fmt: skip
            else:
                assert services.order_trigger_record(
                    order_id=done.order, version=self._next(done.order)
                )

    def _next(self, order_id: int) -> int:
        version = self.versions[order_id]
        self.versions[order_id] = version + 1
        return version

    def cancel(self, index: int) -> None:
        open_ids = sorted(self.engine.orders)
        if not open_ids:
            return
        order_id = open_ids[index % len(open_ids)]
        services.order_cancel(order=Order.objects.get(pk=order_id))
        self.engine.forget(order_id)

    def reload(self, index: int) -> None:
        open_ids = sorted(self.engine.orders)
        if not open_ids:
            return
        order_id = open_ids[index % len(open_ids)]
        self.engine.forget(order_id)
        self._adopt(Order.objects.select_related("instrument").get(pk=order_id))

    def check(self, *, replayed: bool = False) -> None:
        """The linked portfolio equals the account, exactly (and, `replayed`, its kept
        replay equals a replay of its rows)."""
        totals: dict[str, Decimal] = {}
        fees = D(0)
        for b in Balance.objects.filter(account=self.account):
            totals[b.currency] = b.available + b.reserved
            fees += b.fees
        portfolio = Portfolio.objects.get(pk=self.portfolio.pk)
        basis = portfolio_basis(portfolio)
        if replayed:
            assert basis == Basis.of(compute(pure_transactions(portfolio), portfolio.method))
        held = {p.symbol: p.quantity for p in basis.positions}
        cash = dict(basis.foreign)
        for symbol, (_, _, _) in SYMBOLS.items():
            base = symbol.split("-")[0]
            if symbol == "EUR-USD":  # a conversion holds nothing: euros are cash
                assert symbol not in held
                assert cash.get("EUR", D(0)) == totals.get("EUR", D(0)), (cash, totals)
                continue
            assert held.get(symbol, D(0)) == totals.get(base, D(0)), (symbol, held, totals)
        assert basis.cash == totals.get("USD", D(0))
        # Fees in euros count at the rate their fills were recorded at (the day's).
        rates = {t.currency: t.rate for t in pure_transactions(portfolio) if t.currency}
        in_dollars = sum(
            (
                b.fees * rates.get(b.currency, D(1))
                for b in Balance.objects.filter(account=self.account)
            ),
            D(0),
        )
        assert basis.fees == in_dollars


def order_fields(draw: st.DrawFn) -> dict[str, str]:
    symbol = draw(st.sampled_from(sorted(SYMBOLS)))
    tick, step, around = SYMBOLS[symbol]
    kind = draw(st.sampled_from(["market", "limit", "limit", "stop", "stop_limit"]))
    tif = draw(
        st.sampled_from(["GTC", "IOC", "FOK", "DAY"] if kind != "market" else ["GTC", "IOC", "FOK"])
    )
    fields = {
        "symbol": symbol,
        "side": draw(st.sampled_from(["buy", "sell"])),
        "type": kind,
        "quantity": str(step * draw(st.integers(1, 40))),
        "time_in_force": tif,
    }
    if kind in ("limit", "stop_limit"):
        fields["price"] = str(tick * (around + draw(st.integers(-60, 60))))
    if kind in ("stop", "stop_limit"):
        fields["stop_price"] = str(tick * (around + draw(st.integers(-60, 60))))
    return fields


def _penny(settings: Any) -> None:
    settings.TRADING_ORDERS_PER_SECOND = 1_000_000
    Instrument.objects.get_or_create(
        symbol="PENNY", defaults={"name": "Penny stock", "kind": "stock", "reference_price": 2}
    )
    beat()


def test_fifty_fills_of_one_share_are_charged_the_orders_fee_and_recorded_in_full(
    instruments: None, settings: Any
) -> None:
    """The issue's case: a buy limit 50 @ 2.00 filled one share at a time was charged
    0.01 x 49 and then -0.29, and the portfolio refused that fill."""
    _penny(settings)
    venue = Venue()
    venue.transfer(D(1000))
    venue.trade("PENNY", D("2.01"), D(1), 0)
    venue.place({"symbol": "PENNY", "side": "buy", "type": "limit", "quantity": "50", "price": "2"})
    for _ in range(50):
        venue.trade("PENNY", D("1.99"), D(1), 0)
        venue.check()
    order = Order.objects.get(account=venue.account)
    assert order.status == "filled" and order.fees == D("0.10")  # 10 bps of 100.00
    assert sorted({f.fee for f in order.fills.all()}) == [D(0), D("0.01")]
    venue.check(replayed=True)


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    steps: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(80, 120))):
        what = draw(st.sampled_from(["order"] * 4 + ["trade"] * 5 + ["cancel", "reload", "cash"]))
        if what == "order":
            steps.append(("order", order_fields(draw)))
        elif what == "trade":
            symbol = draw(st.sampled_from(sorted(SYMBOLS)))
            tick, step, around = SYMBOLS[symbol]
            price = tick * (around + draw(st.integers(-60, 60)))
            size = step * draw(st.one_of(st.integers(1, 3), st.integers(1, 120)))  # often a crumb
            steps.append(("trade", symbol, price, size, draw(st.integers(0, 1500))))
        elif what == "cash":
            steps.append(("cash", D(draw(st.integers(-5_000, 20_000)))))
        else:
            steps.append((what, draw(st.integers(0, 1000))))
    return steps


@run(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=scripts())
def test_a_linked_portfolio_equals_the_account_after_every_step(
    instruments: None, script: list[tuple[Any, ...]], settings: Any
) -> None:
    _penny(settings)
    venue = Venue()
    venue.transfer(D(100_000))
    for symbol, (tick, step, around) in SYMBOLS.items():  # something to sell
        lots = 30_000 if symbol == "EUR-USD" else 100  # euros enough for 100 SAP.DE
        venue.trade(symbol, tick * around, step, 0)  # a market order needs a last price
        venue.place(
            {"symbol": symbol, "side": "buy", "type": "market", "quantity": str(step * lots)}
        )
        venue.trade(symbol, tick * around, step * lots * 10, 0)
    held = {b.currency: b.available for b in Balance.objects.filter(account=venue.account)}
    assert held["SAP.DE"] == 100 and held["EUR"] > 0, held  # dollars became euros, then shares
    for step in script:
        if step[0] == "order":
            venue.place(step[1])
        elif step[0] == "trade":
            venue.trade(*step[1:])
        elif step[0] == "cash":
            if step[1]:
                venue.transfer(step[1])
        elif step[0] == "cancel":
            venue.cancel(step[1])
        else:
            venue.reload(step[1])
        venue.check()
    venue.check(replayed=True)
    event(f"fills: {venue.fills // 10 * 10}+")
    event(f"steps: {len(script) // 20 * 20}+")
