"""A portfolio's value at market prices (pure: no Django, no asyncio).

`Basis` is what the transactions add up to under a cost-basis method, independent of
prices: per instrument the quantity held and its cost, and the cash, realized P&L,
dividends and fees. It changes only when transactions change, and travels as plain data
(decimals as strings) when it does.

`Valuation` puts a basis at market prices. The prices are a `PriceBoard`'s: each quote
parsed once per process, however many valuations hold the symbol, and kept as integers
on one decimal grid. A valuation's value is then, per currency, one sum of integer
products (quantity on its grid x price on the board's) computed in C: exact at any
number of digits, with no Python step per holding and nothing re-read from the
transactions. Marking a valuation (`mark_quotes`) only says whether any of its symbols
moved; figures are computed when they are asked for. Money prints at cents and
percentages at two decimals only on the wire.

**Currencies.** A holding quoted in another currency than the portfolio's is valued at
its price times the currency's rate now (`Rate`): the product of the live prices of the
exchange-rate instruments that lead from that currency to the portfolio's (`EUR-USD`, or
`USD-JPY` inverted, or through USD), else the latest ECB reference rate. A holding's
value, day change and P&L are in the portfolio's currency; its cost is at its buys' rates,
so its unrealized P&L splits into the price's effect ((value - cost) in its own currency at
today's rate) and the currency's (its own-currency cost at today's rate less its cost).
A currency's rate is derived once per process and move of its legs (`PriceBoard.rate`),
and the currencies' sums are added at their rates in integers too. Cash in other
currencies is valued at the current rate.

On the wire a valuation travels whole (`data()`: the snapshot, the REST API, and the
update after a change of transactions) or as marks (`update()`: the live updates): the
prices of every priced holding with their day's reference and the totals, for the
`version` of the basis the client holds. Per-holding figures follow exactly from a
holding's quantity and cost and its price (docs/protocol.md), so a live update costs the
server no per-holding formatting: its prices are the board's pre-encoded ones, joined.
That is what lets one process keep a thousand portfolios current at every flush.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    InvalidOperation,
)
from operator import itemgetter, mul
from typing import Any

import orjson

from tickstream.market.core.messages import decimal_str as plain
from tickstream.portfolio.core.costbasis import ZERO, Book

_CENT = Decimal("0.01")
# A rate derived from exchange-rate prices, at 12 significant digits: the prices have 5 or
# 6, and every holding's value is multiplied by it at every flush.
_RATE = Context(prec=12)
_WIDE = Context(prec=60)
# Integers summed on a grid become decimals exactly, however many digits they have.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
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


class PriceBoard:
    """The latest price of each symbol as valuations read it, parsed once per quote
    however many valuations hold the symbol.

    Prices are kept as integers on one decimal grid (`units`: price x 10^`scale`, the
    scale growing to the finest price seen), so a valuation's value is a sum of integer
    products: exact, and computed in C (`sum(map(mul, ...))`) without a Python step per
    holding. `stamp` counts each symbol's changes of price, reference or quote time: a
    valuation knows it moved when the sum of its symbols' stamps did. One board serves every
    valuation of a fan-out (`Valuation.share`); a valuation alone has its own.

    A quotes mapping is taken once (`take`, by identity): the fan-out hands the same one
    to every valuation it marks in a flush, and never changes it after.
    """

    SPACE_KEY = "portfolio.prices"

    def __init__(self) -> None:
        self.scale = 2
        self.units: defaultdict[str, int] = defaultdict(int)  # price x 10^scale
        self.base_units: defaultdict[str, int] = defaultdict(int)  # reference (else price)
        self.price: dict[str, Decimal] = {}
        self.reference: dict[str, Decimal | None] = {}
        self.text: dict[str, tuple[str, str | None]] = {}  # (last, reference) as quoted
        self.fragment: dict[str, bytes] = {}  # `"AAPL":["215.50","212.00"]`
        self.time: defaultdict[str, str] = defaultdict(str)  # of the newest quote (ISO 8601)
        self.stamp: defaultdict[str, int] = defaultdict(int)
        self._taken: object = None
        self._rate_sets: dict[Hashable, tuple[int, dict[str, RateNow]]] = {}
        self._times = 0  # changes of `time`
        self._newest: tuple[int, list[tuple[str, str]]] = (-1, [])
        self.moves = 0  # changes of any price
        # The last take: `moves` before it, and the symbols whose price or time it changed.
        self.last_take: tuple[int, set[str]] = (0, set())
        self.reference_moves = 0  # changes of any day's reference (`base_units`)
        # legs -> (moves, their stamps, the rate) when it was derived
        self._rates: dict[tuple[tuple[str, int], ...], tuple[int, tuple[int, ...], RateNow]] = {}

    def take(self, quotes: Mapping[str, Mapping[str, Any] | None]) -> None:
        """The quotes of some symbols (their wire shape: `last`, `prev_close`, `open`,
        `time`). O(quotes), once per mapping. A price that is not a finite, non-negative
        decimal of at most `MAX_SCALE` places leaves the symbol as it was."""
        if quotes is self._taken:
            return
        self._taken = quotes
        before, changed = self.moves, set()
        for symbol, quote in quotes.items():
            if not quote:
                continue
            last = quote.get("last")
            if last is None:
                continue
            time = quote.get("time")
            newer = time is not None and time > self.time[symbol]
            if newer:
                self.time[symbol] = str(time)
                self._times += 1
            reference = quote.get("prev_close") or quote.get("open")
            text = (last, reference)
            if self.text.get(symbol) != text and self._set(symbol, text):
                changed.add(symbol)
            elif newer:  # a trade at the same price: the valuations' time moves
                self.stamp[symbol] += 1
                changed.add(symbol)
        self.last_take = (before, changed)

    def rates(self, key: Hashable, currencies: Mapping[str, _Fx]) -> dict[str, RateNow]:
        """The rates of `currencies` (of valuations with every leg priced; `key` names
        how they are valued), kept until a price moves: a thousand valuations in the
        same currencies read one dict."""
        kept = self._rate_sets.get(key)
        if kept is not None and kept[0] == self.moves:
            return kept[1]
        rates = {c: self.rate(fx.legs) if fx.legs else fx.fallback for c, fx in currencies.items()}
        self._rate_sets[key] = (self.moves, rates)
        return rates

    def newest(self) -> list[tuple[str, str]]:
        """The `NEWEST` latest quote times with their symbols, newest first: O(symbols)
        once per take that moved a time, however many valuations ask."""
        if self._newest[0] != self._times:
            top = heapq.nlargest(NEWEST, self.time.items(), key=itemgetter(1))
            self._newest = (self._times, [(t, s) for s, t in top if t])
        return self._newest[1]

    def _set(self, symbol: str, text: tuple[str, str | None]) -> bool:
        last, reference = text
        try:
            price = _price(last)
            ref = None if reference is None else _price(reference)
        except ValueError:
            return False
        finest = min(_exponent(price), 0 if ref is None else _exponent(ref))
        if -finest > self.scale:
            self._rescale(-finest)
            self.moves += 1
            self.reference_moves += 1
        self.units[symbol] = int(price.scaleb(self.scale, _EXACT))
        if ref is None or ref != self.reference.get(symbol):
            base = int((price if ref is None else ref).scaleb(self.scale, _EXACT))
            if base != self.base_units[symbol]:
                self.base_units[symbol] = base
                self.reference_moves += 1
        self.price[symbol], self.reference[symbol], self.text[symbol] = price, ref, text
        self.fragment[symbol] = orjson.dumps(symbol) + b":" + orjson.dumps([last, reference])
        self.stamp[symbol] += 1
        self.moves += 1
        return True

    def _rescale(self, scale: int) -> None:
        """A finer price came: every price onto the finer grid. O(symbols), at most
        MAX_SCALE times in a process's life."""
        factor = 10 ** (scale - self.scale)
        for table in (self.units, self.base_units):
            for symbol in table:
                table[symbol] *= factor
        self.scale = scale

    def rate(self, legs: tuple[tuple[str, int], ...]) -> RateNow:
        """A currency's rate now and at the day's reference from the prices of its legs
        (every leg priced), at 12 significant digits; kept until a leg moves, so a
        thousand valuations in the same currency derive it once."""
        kept = self._rates.get(legs)
        if kept is not None and kept[0] == self.moves:  # nothing moved since
            return kept[2]
        stamps = tuple(self.stamp[symbol] for symbol, _ in legs)
        if kept is not None and kept[1] == stamps:
            self._rates[legs] = (self.moves, stamps, kept[2])
            return kept[2]
        now = reference = Decimal(1)
        for symbol, exponent in legs:
            last = self.price[symbol]
            ref = self.reference[symbol]
            ref = last if ref is None else ref
            if exponent > 0:
                now, reference = _RATE.multiply(now, last), _RATE.multiply(reference, ref)
            else:
                now, reference = _RATE.divide(now, last), _RATE.divide(reference, ref)
        rate = RateNow.of(now, reference)
        self._rates[legs] = (self.moves, stamps, rate)
        return rate


@dataclass(frozen=True, slots=True)
class RateNow:
    """A currency's rate in a portfolio's now and at the day's reference: as decimals,
    as integers on one grid (`rate = units x 10^exponent`, for sums in integers), and as
    sent."""

    now: Decimal
    then: Decimal
    now_units: int
    then_units: int
    exponent: int
    text: tuple[str, str]

    @classmethod
    def of(cls, now: Decimal, then: Decimal) -> RateNow:
        exponent = min(_exponent(now), _exponent(then), 0)
        return cls(
            now,
            then,
            int(now.scaleb(-exponent, _EXACT)),
            int(then.scaleb(-exponent, _EXACT)),
            exponent,
            (plain(now), plain(then)),
        )


MAX_SCALE = 30  # decimal places of a price the board takes
NEWEST = 8  # quote times kept in order (`PriceBoard.newest`)


def _price(text: str) -> Decimal:
    try:
        price = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"not a price: {text!r}") from None
    if not price.is_finite() or price < 0 or _exponent(price) < -MAX_SCALE:
        raise ValueError(f"not a price: {text!r}")
    return price


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


_NO_RATES: dict[str, RateNow] = {}
_TENS: list[int] = [10**k for k in range(64)]


def _ten(k: int) -> int:
    """10^k for k >= 0."""
    return _TENS[k] if k < 64 else int(10**k)


def _getter(keys: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """Read `keys` of a mapping into a tuple in one C call (`itemgetter` gives a bare
    value for one key)."""
    if len(keys) == 1:
        (key,) = keys
        return lambda table: (table[key],)
    return itemgetter(*keys)


class _Fx:
    """One other currency of a valuation: how its rate is found, and its cash."""

    __slots__ = ("rate", "legs", "fallback", "cash")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.legs = rate.legs
        self.fallback = RateNow.of(rate.fallback, rate.fallback)
        self.cash = ZERO


@dataclass(slots=True)
class _Line:
    """One holding: the position, and the figures that move only with the basis,
    formatted once."""

    position: Position
    fixed: dict[str, Any]
    fx: _Fx | None = None  # its currency's, if not the portfolio's

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


@dataclass(frozen=True, slots=True)
class _Group:
    """The holdings in one currency, summed in one C call: their symbols' reader and
    their quantities on the valuation's grid (quantity x 10^its quantity scale)."""

    fx: _Fx | None
    read: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    quantities: tuple[int, ...]
    alone: str | None  # the symbol of a group of one (read without a call)


@dataclass(slots=True)
class _Figures:
    """What the prices make of a basis: the priced holdings' value and value at the
    day's references, in the portfolio's currency, and the cost of the unpriced ones."""

    market: Decimal
    base: Decimal
    unpriced: Decimal
    rates: dict[str, RateNow]


class Valuation:
    """A basis at market prices (the live `portfolio:<id>`).

    The prices are a `PriceBoard`'s, read when a figure is asked for: marking a
    valuation (`mark_quotes`) only says whether it moved. Its value is then one sum of
    integer products per currency, O(holdings) in C; its update joins pre-encoded
    prices. Until every holding has a price, figures are summed holding by holding."""

    def __init__(
        self,
        basis: Basis,
        *,
        header: Mapping[str, Any] | None = None,
        rates: Iterable[Rate] = (),
    ) -> None:
        self.header = dict(header or {})  # id, name, currency, method: sent as they are
        self.basis = basis
        self.board = PriceBoard()
        self.version = 0  # of the basis: marks apply to the holdings of their version
        self.cost = ZERO  # of every holding
        self._lines: dict[str, _Line] = {}
        self._fx: dict[str, _Fx] = {}
        self._groups: tuple[_Group, ...] = ()
        self._scale = 0  # quantities x 10^this are integers
        self._tracked: frozenset[str] = frozenset()  # holdings and exchange-rate legs
        self._watch: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = None
        self._fragments: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = None
        self._priced: set[str] = set()  # tracked symbols this valuation was marked with
        self._fx_key: Hashable = ()  # how its currencies are valued (`PriceBoard.rates`)
        self._complete = False  # every tracked symbol priced
        self._stamp = 0  # the sum of the tracked symbols' stamps at the last mark
        self._seen = -1  # the board's `moves` at the last mark
        # The groups' sums at the references, with the board's `reference_moves` then.
        # The groups' sums at the references, with the board's `reference_moves` then,
        # and (in one currency) their value.
        self._bases: tuple[int, list[int]] = (-1, [])
        self._base = ZERO
        self.replace(basis, list(rates))

    def share(self, space: dict[str, Any]) -> None:
        """Read prices from the board every valuation of a fan-out shares (`space`, the
        fan-out's), so each quote is parsed once per process; the prices this one knew
        are kept where the shared board has none."""
        shared = space.setdefault(PriceBoard.SPACE_KEY, PriceBoard())
        if shared is self.board:
            return
        known = {s: {"last": t[0], "prev_close": t[1]} for s, t in self.board.text.items()}
        shared.take({s: q for s, q in known.items() if s not in shared.text})
        self.board = shared
        self._stamp = self._stamps()
        self._seen = -1
        self._bases = (-1, [])

    def symbols(self) -> frozenset[str]:
        """The instruments whose prices move this valuation: its holdings and the
        exchange rates of their currencies."""
        return self._tracked

    def replace(self, basis: Basis, rates: Iterable[Rate] | None = None) -> None:
        """The transactions changed: a new basis (and how its currencies are valued, if
        given), the prices already known kept."""
        self.basis = basis
        if rates is not None:
            self._fx = {r.currency: _Fx(r) for r in rates}
        else:
            self._fx = {c: _Fx(fx.rate) for c, fx in self._fx.items()}
        for currency in basis.currencies() - set(self._fx):
            raise ValueError(f"no rate of {currency} for this valuation")
        for currency, amount in basis.foreign:
            self._fx[currency].cash = amount
        self._lines = {
            p.symbol: _Line.of(p, self._fx[p.currency] if p.currency else None)
            for p in basis.positions
        }
        self._scale = max((-_exponent(p.quantity) for p in basis.positions), default=0)
        self._scale = max(self._scale, 0)
        grouped: dict[str, list[Position]] = {}
        for p in basis.positions:
            grouped.setdefault(p.currency, []).append(p)
        self._groups = tuple(
            _Group(
                self._fx[currency] if currency else None,
                _getter(tuple(p.symbol for p in held)),
                tuple(int(p.quantity.scaleb(self._scale, _EXACT)) for p in held),
                held[0].symbol if len(held) == 1 else None,
            )
            for currency, held in grouped.items()
        )
        legs = {symbol for fx in self._fx.values() for symbol, _ in fx.legs}
        self._fx_key = tuple(
            (c, fx.legs, None if fx.legs else fx.rate.fallback)
            for c, fx in sorted(self._fx.items())
        )
        self._tracked = frozenset(self._lines) | frozenset(legs)
        tracked = tuple(sorted(self._tracked))
        self._watch = _getter(tracked) if tracked else None
        self._fragments = _getter(tuple(self._lines)) if self._lines else None
        self._priced &= self._tracked
        self._complete = len(self._priced) == len(self._tracked)
        self.cost = basis.cost_basis
        self.version += 1
        self._stamp = self._stamps()
        self._seen = -1
        self._bases = (-1, [])

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
        changed."""
        quote = {"last": plain(price), "prev_close": None, "time": time}
        if reference is not None:
            quote["prev_close"] = plain(reference)
        return self.mark_quotes({symbol: quote})

    def mark_quote(self, symbol: str, quote: Mapping[str, Any] | None) -> bool:
        """`mark` from a market quote's wire shape (`last`, `prev_close`, `open`)."""
        return self.mark_quotes({symbol: quote})

    def mark_quotes(self, quotes: Mapping[str, Mapping[str, Any] | None]) -> bool:
        """The quotes of the symbols that traded (since the last flush); True if this
        valuation moved: a price, reference or quote time (its `as_of`) of a holding or
        exchange rate it tracks.
        Marked at every take, it reads what the last take changed (one C call); after a
        take it missed, its symbols' stamps (summed in C)."""
        board = self.board
        board.take(quotes)
        before, changed = board.last_take
        if self._seen == before and self._complete:  # it saw every move until this take
            self._seen = board.moves
            if self._tracked.isdisjoint(changed):
                return False
            self._stamp = -1  # (not summed: the next missed take is a move)
            return True
        self._seen = board.moves
        grew = False
        if not self._complete:
            for symbol in self._tracked.intersection(quotes).difference(self._priced):
                quote = quotes[symbol]
                if quote and quote.get("last") is not None and symbol in self.board.text:
                    self._priced.add(symbol)
                    grew = True
            self._complete = len(self._priced) == len(self._tracked)
        stamp = self._stamps()
        if stamp == self._stamp and not grew:
            return False
        self._stamp = stamp
        return True

    def _stamps(self) -> int:
        return 0 if self._watch is None else sum(self._watch(self.board.stamp))

    def _rates_now(self) -> dict[str, RateNow]:
        """Each other currency's rate now and at the reference: from its legs' prices
        once this valuation has them all, else its fallback. With all of them, the
        board's: one dict for every valuation valued alike, once per move."""
        board, priced = self.board, self._priced
        if self._complete:
            return board.rates(self._fx_key, self._fx)
        return {
            currency: board.rate(fx.legs)
            if fx.legs and all(symbol in priced for symbol, _ in fx.legs)
            else fx.fallback
            for currency, fx in self._fx.items()
        }

    def _figures(self) -> _Figures:
        """The value of the priced holdings now and at the day's references. With every
        holding priced: per currency, one C sum of integer products (a lone holding, one
        product); else holding by holding. The currencies' sums are then added at their
        rates in integers, on the finest rate's grid, and become decimals once."""
        board = self.board
        if self._complete and not self._fx:  # the usual: one currency, every holding priced
            return self._one_currency()
        rates = self._rates_now() if self._fx else _NO_RATES
        unpriced = ZERO
        if self._complete:
            units = board.units
            nows = [
                sum(map(mul, group.quantities, group.read(units)))
                if group.alone is None
                else group.quantities[0] * units[group.alone]
                for group in self._groups
            ]
            if self._bases[0] != board.reference_moves:  # (references move once a day)
                base_units = board.base_units
                self._bases = (
                    board.reference_moves,
                    [
                        sum(map(mul, group.quantities, group.read(base_units)))
                        if group.alone is None
                        else group.quantities[0] * base_units[group.alone]
                        for group in self._groups
                    ],
                )
            sums = [
                (group.fx, now, then)
                for group, now, then in zip(self._groups, nows, self._bases[1], strict=True)
            ]
        else:
            sums, unpriced = self._priced_sums()
        finest = min((rate.exponent for rate in rates.values()), default=0)
        market = base = 0
        for fx, value, at_reference in sums:
            if fx is None:
                market += value * _ten(-finest)
                base += at_reference * _ten(-finest)
            else:
                rate = rates[fx.rate.currency]
                shift = _ten(rate.exponent - finest)
                market += value * rate.now_units * shift
                base += at_reference * rate.then_units * shift
        exponent = finest - board.scale - self._scale
        return _Figures(
            Decimal(market).scaleb(exponent, _EXACT),
            Decimal(base).scaleb(exponent, _EXACT),
            unpriced,
            rates,
        )

    def _one_currency(self) -> _Figures:
        """`_figures` of a valuation in one currency with every holding priced: one C
        sum, its value at the references kept until one moves."""
        board = self.board
        exponent = -(board.scale + self._scale)
        if not self._groups:
            return _Figures(ZERO, ZERO, ZERO, _NO_RATES)
        group = self._groups[0]
        market = Decimal(sum(map(mul, group.quantities, group.read(board.units))))
        if self._bases[0] != board.reference_moves:
            at_reference = sum(map(mul, group.quantities, group.read(board.base_units)))
            self._bases = (board.reference_moves, [at_reference])
            self._base = Decimal(at_reference).scaleb(exponent, _EXACT)
        return _Figures(market.scaleb(exponent, _EXACT), self._base, ZERO, _NO_RATES)

    def _priced_sums(self) -> tuple[list[tuple[_Fx | None, int, int]], Decimal]:
        """Per currency, the sums of the priced holdings, holding by holding; and the
        cost of the unpriced ones."""
        board, unpriced = self.board, ZERO
        totals: dict[str, list[int]] = {}
        for symbol, line in self._lines.items():
            if symbol not in self._priced:
                unpriced += line.position.cost
                continue
            quantity = int(line.position.quantity.scaleb(self._scale, _EXACT))
            sums_of = totals.setdefault(line.position.currency, [0, 0])
            sums_of[0] += quantity * board.units[symbol]
            sums_of[1] += quantity * board.base_units[symbol]
        sums = [(self._fx[c] if c else None, v, b) for c, (v, b) in totals.items()]
        return sums, unpriced

    def _cash(self, figures: _Figures) -> Decimal:
        cash = self.basis.cash
        for currency, fx in self._fx.items():
            if fx.cash:
                cash = _EXACT.add(cash, _EXACT.multiply(fx.cash, figures.rates[currency].now))
        return cash

    @property
    def market_value(self) -> Decimal:
        """Of the priced holdings, in the portfolio's currency at today's rates."""
        return self._figures().market

    @property
    def base_value(self) -> Decimal:
        """Of the priced holdings at their day's references (and reference rates)."""
        return self._figures().base

    @property
    def cash(self) -> Decimal:
        """Every currency's, in the portfolio's at today's rates."""
        return self._cash(self._figures())

    @property
    def day_change(self) -> Decimal:
        """The priced holdings' change against their day's references."""
        figures = self._figures()
        return _EXACT.subtract(figures.market, figures.base)

    @property
    def unpriced(self) -> Decimal:
        """The cost of the holdings without a price yet."""
        return self._figures().unpriced

    @property
    def as_of(self) -> str | None:
        """The time of the newest price this valuation was marked with (ISO 8601)."""
        if self._complete:
            tracked = self._tracked
            for time, symbol in self.board.newest():  # most often one of the first
                if symbol in tracked:
                    return time
            times = self._watch(self.board.time) if self._watch is not None else ()
        else:
            times = tuple(self.board.time.get(s, "") for s in self._priced)
        newest = max(times, default="")
        return newest or None

    def rate(self, currency: str) -> Decimal:
        """A currency's rate in the portfolio's now (1 for its own; KeyError for one it
        was not given)."""
        if currency in ("", self.header.get("currency")):
            return Decimal(1)
        return self._rates_now()[currency].now

    def holdings(self, figures: _Figures | None = None) -> list[dict[str, Any]]:
        """Per holding: quantity, cost basis, average cost, price, market value,
        unrealized P&L and %, day change and allocation % (of the holdings' value); in
        another currency also its rate and the P&L's price and currency effects.
        O(holdings), with a Python step each: for snapshots and the API, not live
        updates."""
        figures = figures or self._figures()
        board, total = self.board, figures.market
        out = []
        for symbol, line in self._lines.items():
            if symbol not in self._priced:
                out.append({**line.fixed, **_UNPRICED})
                continue
            position, fx = line.position, line.fx
            price, reference = board.price[symbol], board.reference[symbol]
            own = _EXACT.multiply(position.quantity, price)
            at_reference = (
                own if reference is None else _EXACT.multiply(position.quantity, reference)
            )
            cost = position.cost
            extra: dict[str, Any] = {}
            if fx is None:
                value, day = own, _EXACT.subtract(own, at_reference)
            else:
                rate, rate_then = (r := figures.rates[position.currency]).now, r.then
                value = _EXACT.multiply(own, rate)
                day = _EXACT.subtract(value, _EXACT.multiply(at_reference, rate_then))
                own_cost = position.own_cost
                extra = {
                    "rate": plain(rate),
                    "price_effect": money(_EXACT.multiply(_EXACT.subtract(own, own_cost), rate)),
                    "currency_effect": money(
                        _EXACT.subtract(_EXACT.multiply(own_cost, rate), cost)
                    ),
                }
            unrealized = _EXACT.subtract(value, cost)
            out.append(
                {
                    **line.fixed,
                    "price": board.text[symbol][0],
                    "market_value": money(value),
                    "unrealized_pnl": money(unrealized),
                    "unrealized_pnl_pct": percent(unrealized, cost),
                    "day_change": money(day),
                    "allocation_pct": percent(value, total),
                    **extra,
                }
            )
        return out

    def cash_balances(self, figures: _Figures | None = None) -> list[dict[str, Any]]:
        """The cash of each currency held: its own amount and its value now."""
        rates = (figures or self._figures()).rates
        rows = [{"currency": self.header.get("currency", ""), "amount": money(self.basis.cash)}]
        rows[0]["value"] = rows[0]["amount"]
        for currency, amount in self.basis.foreign:
            rate = rates[currency].now
            rows.append(
                {
                    "currency": currency,
                    "amount": money(amount),
                    "value": money(_EXACT.multiply(amount, rate)),
                    "rate": plain(rate),
                }
            )
        return rows

    def totals(self, figures: _Figures | None = None) -> dict[str, Any]:
        figures = figures or self._figures()
        b = self.basis
        priced_cost = _EXACT.subtract(b.cost_basis, figures.unpriced)
        market, cash = figures.market, self._cash(figures)
        unrealized = _EXACT.subtract(market, priced_cost)
        return {
            "market_value": money(market),
            "cash": money(cash),
            "value": money(_EXACT.add(market, cash)),
            "cost_basis": money(b.cost_basis),
            "realized_pnl": money(b.realized),
            "unrealized_pnl": money(unrealized),
            "unrealized_pnl_pct": percent(unrealized, priced_cost),
            "day_change": money(_EXACT.subtract(market, figures.base)),
            "dividends": money(b.dividends),
            "fees": money(b.fees),
            "deposits": money(b.deposits),
            "withdrawals": money(b.withdrawals),
            "invested": money(b.invested),
        }

    def data(self) -> dict[str, Any]:
        """The whole valuation as it goes on the wire and out of the REST API."""
        figures = self._figures()
        out = {
            **self.header,
            "as_of": self.as_of,
            "version": self.version,
            "holdings": self.holdings(figures),
            "totals": self.totals(figures),
        }
        if self._fx:
            out["cash_balances"] = self.cash_balances(figures)
            out["rates"] = _rates_data(figures)
        return out

    def update(self) -> dict[str, Any]:
        """The live update: every priced holding's price and day reference, and the totals
        that move with prices, for basis `version` (a client holding another version asks
        for the channel again); with other currencies, each one's rate and reference
        rate. With every holding priced, the prices are the board's pre-encoded ones,
        joined (`orjson.Fragment`: no per-holding work in Python)."""
        figures = self._figures()
        market = figures.market
        priced_cost = _EXACT.subtract(self.cost, figures.unpriced)
        unrealized = _EXACT.subtract(market, priced_cost)
        cash = self._cash(figures) if self._fx else self.basis.cash
        totals = {
            "market_value": money(market),
            "value": money(_EXACT.add(market, cash)),
            "day_change": money(_EXACT.subtract(market, figures.base)),
            "unrealized_pnl": money(unrealized),
            "unrealized_pnl_pct": percent(unrealized, priced_cost),
        }
        prices: Any
        if self._complete and self._fragments is not None:
            prices = orjson.Fragment(b"{" + b",".join(self._fragments(self.board.fragment)) + b"}")
        else:
            text = self.board.text
            prices = {s: list(text[s]) for s in self._lines if s in self._priced}
        out: dict[str, Any] = {
            "as_of": self.as_of,
            "version": self.version,
            "prices": prices,
            "totals": totals,
        }
        if self._fx:
            out["rates"] = _rates_data(figures)
            totals["cash"] = money(cash)
        return out


def _rates_data(figures: _Figures) -> dict[str, tuple[str, str]]:
    return {c: rate.text for c, rate in sorted(figures.rates.items())}


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
