"""A portfolio's value at market prices (pure: no Django, no asyncio).

`Basis` is what the transactions add up to under a cost-basis method, independent of
prices: per instrument the quantity held and its cost, and the cash, realized P&L,
dividends and fees. It changes only when transactions change, and travels as plain data
(decimals as strings) when it does.

`Valuation` puts a basis at market prices and keeps the result current **incrementally**:
`mark(symbol, last, reference)` changes the total market value by quantity x price move
and the day change likewise; nothing re-reads the transactions per tick. Every figure is an
exact `Decimal`; money prints at cents and percentages at two decimals only on the wire.

On the wire a valuation travels whole (`data()`: the snapshot, the REST API, and the
update after a change of transactions) or as marks (`update()`: the live updates): the
prices of every priced holding with their day's reference and the totals, for the
`version` of the basis the client holds. Per-holding figures follow exactly from a
holding's quantity and cost and its price (docs/protocol.md), so a live update costs the
server no per-holding formatting: that is what lets one process keep a thousand
portfolios current at every flush.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from tickstream.market.core.messages import decimal_str as plain
from tickstream.portfolio.core.costbasis import ZERO, Book

_CENT = Decimal("0.01")
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
    """An instrument held: how much, and what it cost (fees included)."""

    symbol: str
    quantity: Decimal
    cost: Decimal

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

    @classmethod
    def of(cls, book: Book) -> Basis:
        """The basis of a computed book: its open positions, sorted by symbol."""
        positions = tuple(
            Position(h.symbol, h.quantity, h.cost)
            for h in sorted(book.holdings.values(), key=lambda h: h.symbol)
            if h.quantity != 0
        )
        return cls(
            positions,
            book.cash,
            book.realized,
            book.dividends,
            book.fees,
            book.deposits,
            book.withdrawals,
            book.invested,
        )

    @property
    def cost_basis(self) -> Decimal:
        return sum((p.cost for p in self.positions), ZERO)

    def symbols(self) -> frozenset[str]:
        return frozenset(p.symbol for p in self.positions)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (exact decimals as strings), the inverse of `from_dict`."""
        return {
            "positions": [[p.symbol, plain(p.quantity), plain(p.cost)] for p in self.positions],
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
            positions = tuple(
                Position(str(s), Decimal(str(q)), Decimal(str(c))) for s, q, c in data["positions"]
            )
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
        return cls(positions, *values)


@dataclass(slots=True)
class _Line:
    """One holding at market: the position, its latest price and what follows from it."""

    position: Position
    fixed: dict[str, Any]  # the figures that move only with the basis, formatted once
    price: Decimal | None = None
    price_text: str | None = None
    reference: Decimal | None = None  # the price the day's change is measured from
    reference_text: str | None = None
    value: Decimal = ZERO  # quantity x price (zero until priced)
    base: Decimal = ZERO  # quantity x reference: the day's change is value - base

    @property
    def day(self) -> Decimal:
        return self.value - self.base

    @classmethod
    def of(cls, p: Position) -> _Line:
        average = p.average_cost
        fixed = {
            "symbol": p.symbol,
            "quantity": plain(p.quantity),
            "cost": plain(p.cost),  # exact: live marks derive the P&L from it
            "cost_basis": money(p.cost),
            "average_cost": None if average is None else plain(_round(average)),
        }
        return cls(p, fixed)


class Valuation:
    """A basis at market prices, kept current tick by tick (the live `portfolio:<id>`)."""

    def __init__(self, basis: Basis, *, header: Mapping[str, Any] | None = None) -> None:
        self.header = dict(header or {})  # id, name, currency, method: sent as they are
        self.basis = basis
        self._lines: dict[str, _Line] = {}
        self.market_value = ZERO
        self.base_value = ZERO  # of the priced holdings at their day's references
        self.as_of: str | None = None  # the time of the newest price (ISO 8601)
        self.version = 0  # of the basis: marks apply to the holdings of their version
        self.unpriced = ZERO  # the cost of the holdings without a price yet
        self.cost = ZERO  # of every holding
        self.replace(basis)

    @property
    def day_change(self) -> Decimal:
        """The priced holdings' change against their day's references."""
        return self.market_value - self.base_value

    def symbols(self) -> frozenset[str]:
        """The instruments whose prices move this valuation."""
        return frozenset(self._lines)

    def replace(self, basis: Basis) -> None:
        """The transactions changed: a new basis, the prices already known kept."""
        old = self._lines
        self.basis = basis
        self._lines = {p.symbol: _Line.of(p) for p in basis.positions}
        self.market_value = self.base_value = ZERO
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
        """A published change (`change_message`): the new header and basis."""
        basis = Basis.from_dict(change["basis"])
        self.header = dict(change.get("header") or self.header)
        self.replace(basis)

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
        traded since the last flush); True if anything changed. One pass over the
        holdings, each quote's text parsed once per process, not once per portfolio."""
        changed = False
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
            if not same_reference or ref is None:  # a new session, or the first price
                ref = None if reference is None else _decimal(reference)
                base = value if ref is None else quantity * ref
                self.base_value += base - line.base
                line.base, line.reference, line.reference_text = base, ref, reference
            if line.price is None:
                self.unpriced -= line.position.cost
            self.market_value += value - line.value
            line.price, line.value, line.price_text = price, value, last
            changed = True
        return changed

    def holdings(self) -> list[dict[str, Any]]:
        """Per holding: quantity, cost basis, average cost, price, market value,
        unrealized P&L and %, day change and allocation % (of the holdings' value)."""
        total = self.market_value
        out = []
        for line in self._lines.values():
            if line.price is None:
                out.append({**line.fixed, **_UNPRICED})
                continue
            cost = line.position.cost
            unrealized = line.value - cost
            out.append(
                {
                    **line.fixed,
                    "price": line.price_text,
                    "market_value": money(line.value),
                    "unrealized_pnl": money(unrealized),
                    "unrealized_pnl_pct": percent(unrealized, cost),
                    "day_change": money(line.day),
                    "allocation_pct": percent(line.value, total),
                }
            )
        return out

    def totals(self) -> dict[str, Any]:
        b = self.basis
        priced_cost = b.cost_basis - self.unpriced
        unrealized = self.market_value - priced_cost
        return {
            "market_value": money(self.market_value),
            "cash": money(b.cash),
            "value": money(self.market_value + b.cash),
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
        return {
            **self.header,
            "as_of": self.as_of,
            "version": self.version,
            "holdings": self.holdings(),
            "totals": self.totals(),
        }

    def update(self) -> dict[str, Any]:
        """The live update: every priced holding's price and day reference, and the totals
        that move with prices, for basis `version` (a client holding another version asks
        for the channel again)."""
        market = self.market_value
        priced_cost = self.cost - self.unpriced
        return {
            "as_of": self.as_of,
            "version": self.version,
            "prices": {
                s: [ln.price_text, ln.reference_text]
                for s, ln in self._lines.items()
                if ln.price is not None
            },
            "totals": {
                "market_value": money(market),
                "value": money(market + self.basis.cash),
                "day_change": money(self.day_change),
                "unrealized_pnl": money(market - priced_cost),
                "unrealized_pnl_pct": percent(market - priced_cost, priced_cost),
            },
        }


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


def change_message(header: Mapping[str, Any], basis: Basis) -> dict[str, Any]:
    """What a change of transactions publishes: each live valuation `apply`s it."""
    return {"header": dict(header), "basis": basis.to_dict()}


def _round(value: Decimal) -> Decimal:
    """A unit cost at the store's ten decimals."""
    return value.quantize(Decimal("1e-10"), rounding=ROUND_HALF_EVEN, context=_WIDE)
