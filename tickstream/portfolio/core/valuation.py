"""A portfolio's value at market prices (pure: no Django, no asyncio).

`Basis` is what the transactions add up to under a cost-basis method, independent of
prices: per instrument the quantity held and its cost, and the cash, realized P&L,
dividends and fees. It changes only when transactions change, and travels as plain data
(decimals as strings) when it does.

`Valuation` puts a basis at market prices and keeps the result current **incrementally**:
`mark(symbol, last, reference)` changes the total market value by quantity x price move
and the day change likewise; nothing re-reads the transactions per tick. Every figure is an
exact `Decimal`; money prints at cents and percentages at two decimals only on the wire.

**Currencies.** A holding quoted in another currency than the portfolio's is valued at
its price times the currency's rate now (`Rate`): the product of the live prices of the
exchange-rate instruments that lead from that currency to the portfolio's (`EUR-USD`, or
`USD-JPY` inverted, or through USD), else the latest ECB reference rate. A holding's
value, day change and P&L are in the portfolio's currency; its cost is at its buys' rates,
so its unrealized P&L splits into the price's effect ((value - cost) in its own currency at
today's rate) and the currency's (its own-currency cost at today's rate less its cost).
Per currency the valuation keeps the own-currency value of its holdings and its cash, so a
rate's move changes the totals in O(1) too. Cash in other currencies is valued at the
current rate.

On the wire a valuation travels whole (`data()`: the snapshot, the REST API, and the
update after a change of transactions) or as marks (`update()`: the live updates): the
prices of every priced holding with their day's reference and the totals, for the
`version` of the basis the client holds. Per-holding figures follow exactly from a
holding's quantity and cost and its price (docs/protocol.md), so a live update costs the
server no per-holding formatting: that is what lets one process keep a thousand
portfolios current at every flush.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from tickstream.market.core.messages import decimal_str as plain
from tickstream.portfolio.core.costbasis import ZERO, Book

_CENT = Decimal("0.01")
# A rate derived from exchange-rate prices, at 12 significant digits: the prices have 5 or
# 6, and every holding's value is multiplied by it at every flush.
_RATE = Context(prec=12)
_WIDE = Context(prec=60)
_HUNDRED = Decimal(100)


def money(value: Decimal) -> str:
    """Money on the wire: cents, half to even, never in exponent notation (and never
    `-0.00`). Formatting rounds in the decimal library's own C code: this runs for every
    figure of every live update."""
    text = format(value, ".2f")
    return "0.00" if text == "-0.00" else text


def percent(part: Decimal, whole: Decimal) -> str | None:
    """`part` as a percentage of `whole`, at two decimals; None when `whole` is zero."""
    if whole == 0:
        return None
    return money(part * _HUNDRED / whole)


@dataclass(frozen=True, slots=True)
class Position:
    """An instrument held: how much, and what it cost (fees included), in the portfolio's
    currency at its buys' rates, and in its own currency (`native`) if that is another."""

    symbol: str
    quantity: Decimal
    cost: Decimal
    currency: str = ""  # "": the portfolio's
    native: Decimal | None = None  # the cost in `currency` (None: the same as `cost`)

    @property
    def own_cost(self) -> Decimal:
        return self.cost if self.native is None else self.native

    @property
    def average_cost(self) -> Decimal | None:
        return None if self.quantity == 0 else _WIDE.divide(self.cost, self.quantity)


@dataclass(frozen=True, slots=True)
class Basis:
    """What a portfolio's transactions add up to, before prices."""

    positions: tuple[Position, ...] = ()
    cash: Decimal = ZERO
    realized: Decimal = ZERO
    dividends: Decimal = ZERO
    fees: Decimal = ZERO
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    invested: Decimal = ZERO  # net money put in (deposits, withdrawals, money brought in)
    foreign: tuple[tuple[str, Decimal], ...] = ()  # cash in other currencies, own amounts

    @classmethod
    def of(cls, book: Book) -> Basis:
        """The basis of a computed book: its open positions, sorted by symbol."""
        positions = tuple(
            Position(h.symbol, h.quantity, h.cost, h.currency, h.native if h.currency else None)
            for h in sorted(book.holdings.values(), key=lambda h: h.symbol)
            if h.quantity != 0
        )
        foreign = tuple(sorted((c, a) for c, a in book.foreign.items() if a))
        return cls(
            positions,
            book.cash,
            book.realized,
            book.dividends,
            book.fees,
            book.deposits,
            book.withdrawals,
            book.invested,
            foreign,
        )

    def currencies(self) -> frozenset[str]:
        """The other currencies it holds: of its positions and of its cash."""
        return frozenset(p.currency for p in self.positions if p.currency) | frozenset(
            c for c, _ in self.foreign
        )

    @property
    def cost_basis(self) -> Decimal:
        return sum((p.cost for p in self.positions), ZERO)

    def symbols(self) -> frozenset[str]:
        return frozenset(p.symbol for p in self.positions)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (exact decimals as strings), the inverse of `from_dict`."""
        return {
            "positions": [_position_row(p) for p in self.positions],
            "foreign": [[c, plain(a)] for c, a in self.foreign],
            "cash": plain(self.cash),
            "realized": plain(self.realized),
            "dividends": plain(self.dividends),
            "fees": plain(self.fees),
            "deposits": plain(self.deposits),
            "withdrawals": plain(self.withdrawals),
            "invested": plain(self.invested),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Basis:
        """Read `to_dict`'s shape; ValueError on anything else."""
        try:
            positions = tuple(_position_of(row) for row in data["positions"])
            foreign = tuple((str(c), Decimal(str(a))) for c, a in data.get("foreign", ()))
            fields = (
                "cash",
                "realized",
                "dividends",
                "fees",
                "deposits",
                "withdrawals",
                "invested",
            )
            values = [Decimal(str(data[f])) for f in fields]
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ValueError(f"not a portfolio basis: {exc!r}") from None
        if not all(v.is_finite() for v in values):
            raise ValueError("not a portfolio basis: a figure is not finite")
        cash, realized, dividends, fees, deposits, withdrawals, invested = values
        return cls(
            positions, cash, realized, dividends, fees, deposits, withdrawals, invested, foreign
        )


def _position_row(p: Position) -> list[str]:
    row = [p.symbol, plain(p.quantity), plain(p.cost)]
    if p.currency:
        row += [p.currency, plain(p.own_cost)]
    return row


def _position_of(row: Any) -> Position:
    if len(row) == 5:
        s, q, c, currency, native = row
        return Position(str(s), Decimal(str(q)), Decimal(str(c)), str(currency), Decimal(native))
    s, q, c = row
    return Position(str(s), Decimal(str(q)), Decimal(str(c)))


@dataclass(frozen=True, slots=True)
class Rate:
    """How a currency is valued in the portfolio's: `legs`, the exchange-rate instruments
    whose prices multiply (+1) or divide (-1) to its rate (at 12 significant digits), and
    `fallback`, the latest reference rate, used until every leg has a price."""

    currency: str
    fallback: Decimal
    legs: tuple[tuple[str, int], ...] = ()

    def to_list(self) -> list[Any]:
        return [self.currency, plain(self.fallback), [[s, e] for s, e in self.legs]]

    @classmethod
    def of(cls, row: Any) -> Rate:
        currency, fallback, legs = row
        rate = Decimal(str(fallback))
        if not rate.is_finite() or rate <= 0:
            raise ValueError(f"not a rate: {fallback!r}")
        return cls(str(currency), rate, tuple((str(s), 1 if e > 0 else -1) for s, e in legs))


def fx_legs(
    currency: str, base: str, pairs: Mapping[str, tuple[str, str]]
) -> tuple[tuple[str, int], ...]:
    """The instruments (symbol -> (its base, its quote) currency) whose prices lead from
    `currency` to `base`: a direct pair, its inverse, or through USD; () if none do."""

    def leg(a: str, b: str) -> tuple[str, int] | None:
        for symbol, (first, second) in sorted(pairs.items()):
            if (first, second) == (a, b):
                return symbol, 1
            if (first, second) == (b, a):
                return symbol, -1
        return None

    direct = leg(currency, base)
    if direct is not None:
        return (direct,)
    if "USD" not in (currency, base):
        first, second = leg(currency, "USD"), leg("USD", base)
        if first is not None and second is not None:
            return (first, second)
    return ()


class _Fx:
    """One other currency of a valuation: its rate now and at the day's reference, and
    the own-currency value of what is held in it."""

    __slots__ = ("rate", "legs", "fallback", "prices", "now", "reference", "value", "base", "cash")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.legs = dict(rate.legs)
        self.fallback = rate.fallback
        self.prices: dict[str, tuple[Decimal, Decimal]] = {}  # leg -> (last, reference)
        self.now = self.reference = rate.fallback
        self.value = ZERO  # of its priced holdings, own currency
        self.base = ZERO  # of its priced holdings at their references, own currency
        self.cash = ZERO

    def derive(self) -> tuple[Decimal, Decimal]:
        """The rate and reference rate from the legs' prices, or the fallback."""
        if not self.legs or len(self.prices) < len(self.legs):
            return self.fallback, self.fallback
        now = reference = Decimal(1)
        for symbol, exponent in self.legs.items():
            last, ref = self.prices[symbol]
            if exponent > 0:
                now, reference = _RATE.multiply(now, last), _RATE.multiply(reference, ref)
            else:
                now, reference = _RATE.divide(now, last), _RATE.divide(reference, ref)
        return now, reference


@dataclass(slots=True)
class _Line:
    """One holding at market: the position, its latest price and what follows from it
    (value and base in the holding's own currency)."""

    position: Position
    fixed: dict[str, Any]  # the figures that move only with the basis, formatted once
    fx: _Fx | None = None  # its currency's, if not the portfolio's
    price: Decimal | None = None
    price_text: str | None = None
    reference: Decimal | None = None  # the price the day's change is measured from
    reference_text: str | None = None
    value: Decimal = ZERO  # quantity x price (zero until priced)
    base: Decimal = ZERO  # quantity x reference: the day's change is value - base

    @classmethod
    def of(cls, p: Position, fx: _Fx | None) -> _Line:
        average = p.average_cost
        fixed = {
            "symbol": p.symbol,
            "quantity": plain(p.quantity),
            "cost": plain(p.cost),  # exact: live marks derive the P&L from it
            "cost_basis": money(p.cost),
            "average_cost": None if average is None else plain(_round(average)),
        }
        if fx is not None:
            fixed["currency"] = p.currency
            fixed["own_cost"] = plain(p.own_cost)
        return cls(p, fixed, fx)


class Valuation:
    """A basis at market prices, kept current tick by tick (the live `portfolio:<id>`)."""

    def __init__(
        self,
        basis: Basis,
        *,
        header: Mapping[str, Any] | None = None,
        rates: Iterable[Rate] = (),
    ) -> None:
        self.header = dict(header or {})  # id, name, currency, method: sent as they are
        self.basis = basis
        self._lines: dict[str, _Line] = {}
        self._fx: dict[str, _Fx] = {}
        self._legs: dict[str, list[_Fx]] = {}  # exchange-rate symbol -> the currencies it moves
        # The holdings in the portfolio's currency: their value and day's base; those in
        # other currencies are summed per currency in its own (`_Fx`), and converted only
        # when a total is read: O(currencies), never per holding and rate move.
        self._value = ZERO
        self._base = ZERO
        self.as_of: str | None = None  # the time of the newest price (ISO 8601)
        self.version = 0  # of the basis: marks apply to the holdings of their version
        self.unpriced = ZERO  # the cost of the holdings without a price yet
        self.cost = ZERO  # of every holding
        self.replace(basis, rates)

    @property
    def market_value(self) -> Decimal:
        """Of the priced holdings, in the portfolio's currency at today's rates."""
        value = self._value
        for fx in self._fx.values():
            if fx.value:
                value += fx.value * fx.now
        return value

    @property
    def base_value(self) -> Decimal:
        """Of the priced holdings at their day's references (and reference rates)."""
        base = self._base
        for fx in self._fx.values():
            if fx.base:
                base += fx.base * fx.reference
        return base

    @property
    def cash(self) -> Decimal:
        """Every currency's, in the portfolio's at today's rates."""
        cash = self.basis.cash
        for fx in self._fx.values():
            if fx.cash:
                cash += fx.cash * fx.now
        return cash

    @property
    def day_change(self) -> Decimal:
        """The priced holdings' change against their day's references."""
        return self.market_value - self.base_value

    def symbols(self) -> frozenset[str]:
        """The instruments whose prices move this valuation: its holdings and the
        exchange rates of their currencies."""
        return frozenset(self._lines) | frozenset(self._legs)

    def replace(self, basis: Basis, rates: Iterable[Rate] | None = None) -> None:
        """The transactions changed: a new basis (and how its currencies are valued, if
        given), the prices already known kept."""
        old, old_fx = self._lines, self._fx
        self.basis = basis
        if rates is not None:
            self._fx = {r.currency: _Fx(r) for r in rates}
        else:  # the same rates, their sums started again
            self._fx = {c: _Fx(fx.rate) for c, fx in old_fx.items()}
        for currency in basis.currencies() - set(self._fx):
            raise ValueError(f"no rate of {currency} for this valuation")
        self._legs = {}
        for fx in self._fx.values():
            for symbol in fx.legs:
                self._legs.setdefault(symbol, []).append(fx)
            known = old_fx.get(fx.rate.currency)
            if known is not None and known.legs == fx.legs:
                fx.prices = dict(known.prices)
            fx.now, fx.reference = fx.derive()
        for currency, amount in basis.foreign:
            self._fx[currency].cash = amount
        self._lines = {
            p.symbol: _Line.of(p, self._fx[p.currency] if p.currency else None)
            for p in basis.positions
        }
        self._value = self._base = ZERO
        self.cost = basis.cost_basis
        self.unpriced = self.cost
        self.version += 1
        self.mark_quotes(
            {
                symbol: {"last": known.price_text, "prev_close": known.reference_text}
                for symbol, known in old.items()
                if symbol in self._lines and known.price is not None
            }
        )

    def apply(self, change: Mapping[str, Any]) -> None:
        """A published change (`change_message`): the new header, basis and rates."""
        basis = Basis.from_dict(change["basis"])
        self.header = dict(change.get("header") or self.header)
        rates = change.get("rates")
        self.replace(basis, None if rates is None else [Rate.of(r) for r in rates])

    def mark(
        self,
        symbol: str,
        price: Decimal,
        reference: Decimal | None = None,
        time: str | None = None,
    ) -> bool:
        """A new price for `symbol` (traded at `time`, ISO 8601 UTC); True if the valuation
        changed. O(1): the totals move by the holding's change alone."""
        quote = {"last": plain(price), "prev_close": None, "time": time}
        if reference is not None:
            quote["prev_close"] = plain(reference)
        return self.mark_quotes({symbol: quote})

    def mark_quote(self, symbol: str, quote: Mapping[str, Any] | None) -> bool:
        """`mark` from a market quote's wire shape (`last`, `prev_close`, `open`)."""
        return self.mark_quotes({symbol: quote})

    def mark_quotes(self, quotes: Mapping[str, Mapping[str, Any] | None]) -> bool:
        """`mark` every holding whose symbol has a quote in `quotes` (the symbols that
        traded since the last flush), and every currency whose exchange rate does; True
        if anything changed. One pass over the holdings, each quote's text parsed once
        per process, not once per portfolio."""
        changed = self._mark_rates(quotes) if self._legs else False
        for symbol, line in self._lines.items():
            quote = quotes.get(symbol)
            if quote is None:
                continue
            last = quote.get("last")
            if last is None:
                continue
            reference = quote.get("prev_close") or quote.get("open")
            time = quote.get("time")
            if time is not None and (self.as_of is None or time > self.as_of):
                self.as_of = time
            same_reference = reference == line.reference_text and line.price is not None
            if last == line.price_text and same_reference:
                continue
            price, ref = _decimal(last), line.reference
            quantity = line.position.quantity
            value = quantity * price
            fx = line.fx
            if not same_reference or ref is None:  # a new session, or the first price
                ref = None if reference is None else _decimal(reference)
                base = value if ref is None else quantity * ref
                if fx is None:
                    self._base += base - line.base
                else:
                    fx.base += base - line.base
                line.base, line.reference, line.reference_text = base, ref, reference
            if line.price is None:
                self.unpriced -= line.position.cost
            if fx is None:
                self._value += value - line.value
            else:
                fx.value += value - line.value
            line.price, line.value, line.price_text = price, value, last
            changed = True
        return changed

    def _mark_rates(self, quotes: Mapping[str, Mapping[str, Any] | None]) -> bool:
        """New prices of exchange-rate instruments: the rates of the currencies they lead
        to, O(1) per currency (the totals read them)."""
        touched: set[_Fx] = set()
        for symbol, moved in self._legs.items():
            quote = quotes.get(symbol)
            if quote is None or quote.get("last") is None:
                continue
            last = _decimal(quote["last"])
            reference_text = quote.get("prev_close") or quote.get("open")
            reference = last if reference_text is None else _decimal(reference_text)
            time = quote.get("time")
            if time is not None and (self.as_of is None or time > self.as_of):
                self.as_of = time
            for fx in moved:
                if fx.prices.get(symbol) != (last, reference):
                    fx.prices[symbol] = (last, reference)
                    touched.add(fx)
        changed = False
        for fx in touched:  # once per currency, however many of its legs moved
            now, ref = fx.derive()
            if now != fx.now or ref != fx.reference:
                fx.now, fx.reference = now, ref
                changed = True
        return changed

    def rate(self, currency: str) -> Decimal:
        """A currency's rate in the portfolio's now (1 for its own; KeyError for one it
        was not given)."""
        if currency in ("", self.header.get("currency")):
            return Decimal(1)
        return self._fx[currency].now

    def holdings(self) -> list[dict[str, Any]]:
        """Per holding: quantity, cost basis, average cost, price, market value,
        unrealized P&L and %, day change and allocation % (of the holdings' value); in
        another currency also its rate and the P&L's price and currency effects."""
        total = self.market_value
        out = []
        for line in self._lines.values():
            if line.price is None:
                out.append({**line.fixed, **_UNPRICED})
                continue
            cost = line.position.cost
            fx = line.fx
            if fx is None:
                value, day = line.value, line.value - line.base
                extra: dict[str, Any] = {}
            else:
                value = line.value * fx.now
                day = value - line.base * fx.reference
                own = line.position.own_cost
                extra = {
                    "rate": plain(fx.now),
                    "price_effect": money((line.value - own) * fx.now),
                    "currency_effect": money(own * fx.now - cost),
                }
            unrealized = value - cost
            out.append(
                {
                    **line.fixed,
                    "price": line.price_text,
                    "market_value": money(value),
                    "unrealized_pnl": money(unrealized),
                    "unrealized_pnl_pct": percent(unrealized, cost),
                    "day_change": money(day),
                    "allocation_pct": percent(value, total),
                    **extra,
                }
            )
        return out

    def cash_balances(self) -> list[dict[str, Any]]:
        """The cash of each currency held: its own amount and its value now."""
        rows = [{"currency": self.header.get("currency", ""), "amount": money(self.basis.cash)}]
        rows[0]["value"] = rows[0]["amount"]
        for currency, amount in self.basis.foreign:
            fx = self._fx[currency]
            rows.append(
                {
                    "currency": currency,
                    "amount": money(amount),
                    "value": money(amount * fx.now),
                    "rate": plain(fx.now),
                }
            )
        return rows

    def totals(self) -> dict[str, Any]:
        b = self.basis
        priced_cost = b.cost_basis - self.unpriced
        market, cash = self.market_value, self.cash
        unrealized = market - priced_cost
        return {
            "market_value": money(market),
            "cash": money(cash),
            "value": money(market + cash),
            "cost_basis": money(b.cost_basis),
            "realized_pnl": money(b.realized),
            "unrealized_pnl": money(unrealized),
            "unrealized_pnl_pct": percent(unrealized, priced_cost),
            "day_change": money(self.day_change),
            "dividends": money(b.dividends),
            "fees": money(b.fees),
            "deposits": money(b.deposits),
            "withdrawals": money(b.withdrawals),
            "invested": money(b.invested),
        }

    def data(self) -> dict[str, Any]:
        """The whole valuation as it goes on the wire and out of the REST API."""
        out = {
            **self.header,
            "as_of": self.as_of,
            "version": self.version,
            "holdings": self.holdings(),
            "totals": self.totals(),
        }
        if self._fx:
            out["cash_balances"] = self.cash_balances()
            out["rates"] = self._rates()
        return out

    def _rates(self) -> dict[str, list[str]]:
        return {c: [plain(fx.now), plain(fx.reference)] for c, fx in sorted(self._fx.items())}

    def update(self) -> dict[str, Any]:
        """The live update: every priced holding's price and day reference, and the totals
        that move with prices, for basis `version` (a client holding another version asks
        for the channel again); with other currencies, each one's rate and reference
        rate."""
        market, cash = self.market_value, self.cash
        priced_cost = self.cost - self.unpriced
        totals = {
            "market_value": money(market),
            "value": money(market + cash),
            "day_change": money(market - self.base_value),
            "unrealized_pnl": money(market - priced_cost),
            "unrealized_pnl_pct": percent(market - priced_cost, priced_cost),
        }
        out: dict[str, Any] = {
            "as_of": self.as_of,
            "version": self.version,
            "prices": {
                s: [ln.price_text, ln.reference_text]
                for s, ln in self._lines.items()
                if ln.price is not None
            },
            "totals": totals,
        }
        if self._fx:
            out["rates"] = self._rates()
            totals["cash"] = money(cash)
        return out


_UNPRICED = dict.fromkeys(
    (
        "price",
        "market_value",
        "unrealized_pnl",
        "unrealized_pnl_pct",
        "day_change",
        "allocation_pct",
    )
)


@lru_cache(maxsize=16_384)
def _decimal(text: str) -> Decimal:
    """A price on the wire as a decimal: every live valuation following a symbol reads the
    same quote in a flush, so each text is parsed once per process."""
    return Decimal(text)


def change_message(
    header: Mapping[str, Any], basis: Basis, rates: Iterable[Rate] = ()
) -> dict[str, Any]:
    """What a change of transactions publishes: each live valuation `apply`s it."""
    return {
        "header": dict(header),
        "basis": basis.to_dict(),
        "rates": [r.to_list() for r in rates],
    }


def _round(value: Decimal) -> Decimal:
    """A unit cost at the store's ten decimals."""
    return value.quantize(Decimal("1e-10"), rounding=ROUND_HALF_EVEN, context=_WIDE)
