"""Cost basis of a portfolio's transactions by four methods (pure: no Django, no asyncio).

Lots are consumed in **trade-time** order, not the order transactions were entered in:
transactions are replayed sorted by time and, at the same time, by a canonical order
(splits, then cash and buys, then sales; then by instrument, price, quantity and id), so
the result never depends on entry order. Per method a sale consumes:

- `fifo`: the oldest lots first;
- `lifo`: the newest lots first;
- `hifo`: the lots with the highest cost per unit first (the oldest of equals first);
- `average`: one pooled lot per instrument at its average cost.

Cash never goes below zero: money spent beyond the cash held (a buy in a portfolio that
records no deposits) is money the investor brought in, counted in `implicit`, so returns
see it as a flow in, not as a loss.

**Currencies.** A transaction in another currency than the portfolio's (its `currency`)
carries `rate`, units of the portfolio's currency per unit of its own (the reference rate
of its day, or the broker's). Every figure of the book is in the portfolio's currency at
the rate of the transaction that made it: a lot's cost at its buy's rate, a sale's
proceeds at the sale's rate, so a realized gain holds the currency's move between the
two. A lot also keeps its cost in its own currency (`native`), which splits a gain into
price and currency effect. Cash is held per currency: a foreign sale's proceeds, dividend
or deposit stay in their currency (`Book.foreign`); a foreign buy, fee or withdrawal
spends that currency's cash first and converts the rest from the portfolio's cash at the
transaction's rate. With every transaction in the portfolio's currency (rate 1) the book
is exactly what it was before currencies.

**Conversions.** A trade of an exchange-rate instrument (`EUR-USD`: `pair` is the
currency bought, EUR; `currency` the one paid, USD) holds nothing: a buy of q at p pays
q x p + fee of the paid currency and receives q of the bought one; a sale the reverse.
Cash moves between currencies; no money comes in or goes out (fees aside).

A buy's fee is part of its lot's cost; a sale's fee is deducted from its proceeds. A split
(`ratio` new shares per old one, e.g. 4 for 4:1) rescales quantities without changing cost.
Selling more than is held raises `InsufficientQuantity` and changes nothing: no silent
short. Quantities and money are `Decimal`; a partly consumed lot's cost is split so that the
cost of what remains plus the cost of what was sold is exactly the cost that was bought.

Cost: each method keeps its lots in the structure its order needs (a queue for `fifo`, a
stack for `lifo`, a heap by cost per unit for `hifo`, one pooled lot for `average`), and a
holding keeps its quantity and cost as running totals. A buy is O(1) (`hifo`: O(log n)),
a sale O(k) for the k lots it consumes (`hifo`: O(k log n)), a split O(n) of the
instrument's lots: a replay of n transactions is O(n log n) by any method.
"""

from __future__ import annotations

import heapq
import operator
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum

from tickstream.market.core.messages import grouped
from tickstream.market.core.ticks import ns_to_iso

ZERO = Decimal(0)
_COST_PLACES = Decimal("1e-10")  # the cost of a part of a lot, at the store's decimals
_WIDE = Context(prec=60)


class Method(StrEnum):
    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"
    AVERAGE = "average"


class Kind(StrEnum):
    BUY = "buy"
    SELL = "sell"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    DIVIDEND = "dividend"
    INTEREST = "interest"  # income on cash: counted with the dividends
    FEE = "fee"
    SPLIT = "split"


# Same-time order: a split applies to what was held before that moment's trades.
_RANK = {
    Kind.SPLIT: 0,
    Kind.DEPOSIT: 1,
    Kind.BUY: 2,
    Kind.DIVIDEND: 3,
    Kind.INTEREST: 3,
    Kind.SELL: 4,
    Kind.FEE: 5,
    Kind.WITHDRAWAL: 6,
}


class CostBasisError(ValueError):
    """A transaction that cannot be applied; `code` says why."""

    code = "invalid_transaction"


class InsufficientQuantity(CostBasisError):
    """A sale of more than is held at its time; `said` tells it to people."""

    code = "insufficient_quantity"

    def __init__(self, sale: Transaction, held: Decimal) -> None:
        self.sale = sale
        self.held = held
        super().__init__(self.said())

    def said(self, changed: str | None = None) -> str:
        """The sale being made (`changed`: its ref), or an existing one that a change (a
        deleted or smaller buy, a sale dated earlier) would leave short."""
        sale, held = self.sale, self.held
        day = ns_to_iso(sale.time)[:10]
        if changed is not None and sale.ref == changed:
            have = f"{grouped(held)} {sale.symbol}" if held else f"no {sale.symbol}"
            return f"You hold {have} on {day}; this sells {grouped(sale.quantity)}."
        what = f"more than the {grouped(held)} held" if held else "shares not held"
        return (
            f"The sale of {grouped(sale.quantity)} {sale.symbol} on {day} would sell {what} then."
        )


ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction. `quantity` is shares for buys and sells, the ratio for a split
    (new shares per old), and the amount of money for cash kinds; `price` is per share.
    Price, fee and amounts are in `currency` ("": the portfolio's), worth `rate` of the
    portfolio's currency per unit."""

    kind: Kind
    time: int  # ns since the epoch
    symbol: str = ""
    quantity: Decimal = ZERO
    price: Decimal = ZERO
    fee: Decimal = ZERO
    ref: str = ""  # the transaction's id, carried into lots and sales
    currency: str = ""  # "" or the portfolio's own: rate 1
    rate: Decimal = ONE
    pair: str | None = None  # an exchange rate's bought currency ("": the portfolio's)

    def sort_key(self) -> tuple[int, int, str, Decimal, Decimal, str]:
        return (self.time, _RANK[self.kind], self.symbol, self.price, self.quantity, self.ref)


@dataclass(slots=True)
class Lot:
    """Shares bought together: what remains of them and what they cost."""

    ref: str
    time: int
    quantity: Decimal
    cost: Decimal  # in the portfolio's currency, at the buy's rate
    native: Decimal  # in the instrument's currency

    @property
    def unit_cost(self) -> Decimal:
        return self.cost / self.quantity


@dataclass(frozen=True, slots=True)
class Consumed:
    ref: str  # the lot's transaction
    quantity: Decimal
    cost: Decimal
    native: Decimal = ZERO
    acquired: int = 0  # the lot's time (ns); an `average` pool: its first buy's


@dataclass(frozen=True, slots=True)
class Sale:
    ref: str
    time: int
    symbol: str
    quantity: Decimal
    proceeds: Decimal  # after the sale's fee, at the sale's rate
    cost: Decimal
    lots: tuple[Consumed, ...]
    currency: str = ""
    rate: Decimal = ONE  # the sale's
    native_proceeds: Decimal = ZERO  # in the instrument's currency

    @property
    def native_cost(self) -> Decimal:
        return sum((c.native for c in self.lots), ZERO)

    @property
    def currency_effect(self) -> Decimal:
        """What the currency's move between the buys and the sale added to the gain: the
        lots' own-currency cost at the sale's rate less their cost at the buys' rates
        (the rest of the gain, (proceeds - cost) in the own currency at the sale's rate,
        is the price's effect)."""
        return self.native_cost * self.rate - self.cost

    @property
    def realized(self) -> Decimal:
        return self.proceeds - self.cost


# What a lot gave to a sale: (lot, quantity, cost, own-currency cost, dropped from its
# holding, its heap entry)
Taken = tuple[Lot, Decimal, Decimal, Decimal, bool, "tuple[float, Decimal, int, int, Lot] | None"]
# What a split changed: each lot's quantity before, and the heap before (`hifo`)
Split = tuple[list[tuple[Lot, Decimal]], list[tuple[float, Decimal, int, int, Lot]]]


def _hifo_key(lot: Lot) -> tuple[float, Decimal]:
    """Highest cost per unit first: a float orders almost every pair, the exact value the
    rest (floats of decimals never order two values the wrong way round)."""
    unit = lot.unit_cost
    return -float(unit), -unit


class Holding:
    """One instrument's open lots, kept in the order its method consumes them, with their
    quantity and cost as running totals."""

    __slots__ = (
        *("symbol", "method", "quantity", "cost", "native", "currency"),
        *("_queue", "_heap", "_seq"),
    )

    def __init__(self, symbol: str, method: Method = Method.FIFO, currency: str = "") -> None:
        self.symbol = symbol
        self.method = method
        self.currency = currency  # "" : the portfolio's
        self.quantity = ZERO
        self.cost = ZERO
        self.native = ZERO  # the cost in the instrument's currency
        self._queue: deque[Lot] = deque()  # fifo: oldest first; lifo, average: newest last
        # hifo: by cost per unit, highest first (as a float for speed, then exactly), then
        # by time and arrival
        self._heap: list[tuple[float, Decimal, int, int, Lot]] = []
        self._seq = 0

    @property
    def lots(self) -> list[Lot]:
        """The open lots in the order they were bought (a copy: O(n), for reading)."""
        if self.method is Method.HIFO:
            live = [entry for entry in self._heap if entry[4].quantity]
            return [entry[4] for entry in sorted(live, key=lambda e: (e[2], e[3]))]
        return list(self._queue)

    @property
    def average_cost(self) -> Decimal | None:
        quantity = self.quantity
        return None if quantity == 0 else self.cost / quantity

    def add(self, lot: Lot) -> Lot | None:
        """A bought lot. Returns the pooled lot it grew (`average`), else None."""
        self.quantity += lot.quantity
        self.cost += lot.cost
        self.native += lot.native
        if self.method is Method.HIFO:
            self._seq += 1
            heapq.heappush(self._heap, (*_hifo_key(lot), lot.time, self._seq, lot))
        elif self.method is Method.AVERAGE and self._queue:
            pooled = self._queue[0]
            pooled.quantity += lot.quantity
            pooled.cost += lot.cost
            pooled.native += lot.native
            return pooled
        else:
            self._queue.append(lot)
        return None

    def unadd(self, lot: Lot, pooled: Lot | None) -> None:
        """Take back the latest `add` (everything after it taken back already). O(1): a
        `hifo` lot is left in the heap, emptied, and skipped when it comes up."""
        if pooled is not None:
            pooled.quantity -= lot.quantity
            pooled.cost -= lot.cost
            pooled.native -= lot.native
        elif self.method is Method.HIFO:
            lot.quantity = ZERO
        else:
            self._queue.pop()

    def take(self, quantity: Decimal, journal: list[Taken] | None = None) -> list[Consumed]:
        """Consume `quantity` (at most what is held) from the lots, in the method's order;
        what each lot gave goes to `journal` for `untake`."""
        consumed: list[Consumed] = []
        left = quantity
        while left > 0:
            lot = self._next()
            entry = self._heap[0] if self.method is Method.HIFO else None
            take = min(left, lot.quantity)
            cost, native = _part_cost(lot, take)
            consumed.append(Consumed(lot.ref, take, cost, native, lot.time))
            lot.quantity -= take
            lot.cost -= cost
            lot.native -= native
            left -= take
            dropped = lot.quantity == 0
            if dropped:
                self._drop()
            if journal is not None:
                journal.append((lot, take, cost, native, dropped, entry))
        self.quantity -= quantity
        self.cost -= sum((c.cost for c in consumed), ZERO)
        self.native -= sum((c.native for c in consumed), ZERO)
        return consumed

    def untake(self, journal: list[Taken]) -> None:
        """Give back what a `take` consumed (everything after it taken back already)."""
        for lot, take, cost, native, dropped, entry in reversed(journal):
            lot.quantity += take
            lot.cost += cost
            lot.native += native
            if not dropped:
                continue
            if entry is not None:
                heapq.heappush(self._heap, entry)
            elif self.method is Method.LIFO:
                self._queue.append(lot)
            else:
                self._queue.appendleft(lot)

    def _next(self) -> Lot:
        if self.method is Method.HIFO:
            heap = self._heap
            while heap[0][4].quantity == 0:  # a buy taken back
                heapq.heappop(heap)
            return heap[0][4]
        return self._queue[-1] if self.method is Method.LIFO else self._queue[0]

    def _drop(self) -> None:
        if self.method is Method.HIFO:
            heapq.heappop(self._heap)
        elif self.method is Method.LIFO:
            self._queue.pop()
        else:
            self._queue.popleft()

    def split(self, ratio: Decimal) -> Split:
        """`ratio` new shares per old one: quantities scale, costs stay. Returns what
        `unsplit` needs."""
        lots = list(self._each())
        before: Split = ([(lot, lot.quantity) for lot in lots], list(self._heap))
        for lot in lots:
            lot.quantity *= ratio
        self.quantity = sum((lot.quantity for lot in lots), ZERO)
        if self.method is Method.HIFO:  # every cost per unit moved: the keys with them
            live = [e for e in self._heap if e[4].quantity]
            self._heap = [(*_hifo_key(e[4]), e[2], e[3], e[4]) for e in live]
            heapq.heapify(self._heap)
        return before

    def unsplit(self, before: Split) -> None:
        quantities, heap = before
        for lot, quantity in quantities:
            lot.quantity = quantity
        if self.method is Method.HIFO:
            self._heap = heap

    def _each(self) -> Iterator[Lot]:
        if self.method is Method.HIFO:
            return (entry[4] for entry in self._heap if entry[4].quantity)
        return iter(self._queue)


@dataclass(slots=True)
class Book:
    """Everything the transactions add up to, under one method."""

    method: Method
    holdings: dict[str, Holding] = field(default_factory=dict)
    sales: list[Sale] = field(default_factory=list)  # each sale's lots, if `keep_sales`
    keep_sales: bool = True
    cash: Decimal = ZERO  # in the portfolio's currency
    foreign: dict[str, Decimal] = field(default_factory=dict)  # other currencies' cash
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    dividends: Decimal = ZERO  # and interest: the income
    fees: Decimal = ZERO  # every fee paid: of trades and on their own
    bought: Decimal = ZERO  # the cost of every lot ever bought (fees included)
    implicit: Decimal = ZERO  # money brought in beyond the deposits (cash never < 0)
    realized: Decimal = ZERO  # of every sale: proceeds - cost
    sold_cost: Decimal = ZERO  # of every sale

    @property
    def invested(self) -> Decimal:
        """Net money the investor put in: deposits - withdrawals + what was brought in."""
        return self.deposits - self.withdrawals + self.implicit

    def holding(self, symbol: str, currency: str = "") -> Holding:
        found = self.holdings.get(symbol)
        if found is None:
            found = self.holdings[symbol] = Holding(symbol, self.method, currency)
        return found


def compute(transactions: Iterable[Transaction], method: Method | str) -> Book:
    """Replay the transactions in trade-time order under `method`. Raises CostBasisError
    (or InsufficientQuantity) on the first transaction that cannot be applied."""
    book = Book(Method(method))
    for tx in sorted(transactions, key=Transaction.sort_key):
        apply(book, tx)
    return book


_TOTALS = (
    *("cash", "deposits", "withdrawals", "dividends", "fees", "bought", "implicit"),
    *("realized", "sold_cost"),
)


_totals = operator.attrgetter(*_TOTALS)


@dataclass(slots=True)
class Undo:
    """What applying one transaction changed, for `unapply`."""

    totals: tuple[Decimal, ...]  # the book's, before
    holding: Holding | None = None  # the holding it changed
    held: tuple[Decimal, Decimal, Decimal] = (ZERO, ZERO, ZERO)  # its quantity and costs before
    lot: Lot | None = None  # a buy's lot
    pooled: Lot | None = None  # the pooled lot a buy grew (`average`)
    taken: list[Taken] | None = None  # what a sale consumed
    split: Split | None = None
    foreign: tuple[str, Decimal | None] | None = None  # a currency's cash before
    conversion: dict[str, Decimal | None] | None = None  # a conversion's currencies before


def apply(book: Book, tx: Transaction, undo: Undo | None = None) -> None:
    """Apply one transaction (in trade-time order) to a book; all or nothing. With
    `undo`, record there what `unapply` needs to take it back."""
    if tx.quantity < 0 or tx.price < 0 or tx.fee < 0:
        raise CostBasisError(f"{tx.ref or tx.kind}: quantity, price and fee must be >= 0")
    if tx.rate <= 0:
        raise CostBasisError(f"{tx.ref or tx.kind}: an exchange rate must be above zero")
    if tx.pair is not None:
        _convert(book, tx, undo)
    else:
        _need(
            tx,
            bool(tx.currency) or tx.rate == ONE,
            "a transaction in the portfolio's currency has rate 1",
        )
        if tx.currency and undo is not None:
            undo.foreign = (tx.currency, book.foreign.get(tx.currency))
        _apply(book, tx, undo)
    if book.cash < 0:
        book.implicit -= book.cash
        book.cash = ZERO


def _apply(book: Book, tx: Transaction, undo: Undo | None) -> None:
    """A transaction's own amounts move the cash of its currency ("": the portfolio's);
    its figures enter the book at its rate (1 in the portfolio's currency)."""
    rate = tx.rate

    def at_rate(amount: Decimal) -> Decimal:
        return amount if rate == ONE else amount * rate

    if tx.kind is Kind.BUY:
        _need(tx, tx.quantity > 0, "a buy needs a quantity above zero")
        native = tx.quantity * tx.price + tx.fee
        cost = at_rate(native)
        holding = _touch(book, tx, undo)
        lot = Lot(tx.ref, tx.time, tx.quantity, cost, native)
        pooled = holding.add(lot)
        if undo is not None:
            undo.lot, undo.pooled = lot, pooled
        _pay(book, tx.currency, native, rate)
        book.bought += cost
        book.fees += at_rate(tx.fee)
    elif tx.kind is Kind.SELL:
        _need(tx, tx.quantity > 0, "a sale needs a quantity above zero")
        _sell(book, tx, undo)
    elif tx.kind is Kind.SPLIT:
        _need(tx, tx.quantity > 0, "a split needs a ratio above zero (4 for 4:1)")
        split = _touch(book, tx, undo).split(tx.quantity)
        if undo is not None:
            undo.split = split
    elif tx.kind is Kind.DEPOSIT:
        _get(book, tx.currency, tx.quantity, rate)
        book.deposits += at_rate(tx.quantity)
    elif tx.kind is Kind.WITHDRAWAL:
        _pay(book, tx.currency, tx.quantity, rate)
        book.withdrawals += at_rate(tx.quantity)
    elif tx.kind is Kind.DIVIDEND or tx.kind is Kind.INTEREST:
        _get(book, tx.currency, tx.quantity - tx.fee, rate)
        book.dividends += at_rate(tx.quantity)
        book.fees += at_rate(tx.fee)
    elif tx.kind is Kind.FEE:
        _pay(book, tx.currency, tx.quantity + tx.fee, rate)
        book.fees += at_rate(tx.quantity + tx.fee)


def _convert(book: Book, tx: Transaction, undo: Undo | None) -> None:
    """A trade of an exchange rate: cash from the paid currency to the bought one (or
    back, a sale). `tx.rate` values the paid currency; the bought one is worth price x
    that."""
    _need(tx, tx.kind in (Kind.BUY, Kind.SELL), "an exchange rate is bought or sold")
    _need(tx, tx.quantity > 0 and tx.price > 0, "a conversion needs a quantity and a price")
    _need(tx, tx.pair != tx.currency, "a conversion is between two currencies")
    if undo is not None:
        undo.foreign = None
        undo.conversion = {c: book.foreign.get(c) for c in (tx.pair or "", tx.currency) if c}
    paid, bought = tx.currency, tx.pair or ""
    pays, gets = tx.quantity * tx.price, tx.quantity
    if tx.kind is Kind.BUY:
        _pay(book, paid, pays + tx.fee, tx.rate)
        _get(book, bought, gets, tx.price * tx.rate)
    else:
        _pay(book, bought, gets, tx.price * tx.rate)
        _get(book, paid, pays - tx.fee, tx.rate)
    book.fees += tx.fee * tx.rate


def _pay(book: Book, currency: str, amount: Decimal, rate: Decimal) -> None:
    if currency:
        _spend(book, currency, amount, rate)
    else:
        book.cash -= amount


def _get(book: Book, currency: str, amount: Decimal, rate: Decimal) -> None:
    if currency:
        _receive(book, currency, amount, rate)
    else:
        book.cash += amount


def _receive(book: Book, currency: str, amount: Decimal, rate: Decimal) -> None:
    """`amount` of `currency` comes in (below zero, a fee above what it came with: paid)."""
    if amount < 0:
        _spend(book, currency, -amount, rate)
    else:
        book.foreign[currency] = book.foreign.get(currency, ZERO) + amount


def _spend(book: Book, currency: str, amount: Decimal, rate: Decimal) -> None:
    """Pay `amount` of `currency`: from that currency's cash first, the rest converted
    from the portfolio's cash at `rate` (below zero there: money brought in)."""
    held = book.foreign.get(currency, ZERO)
    used = min(held, amount)
    left = held - used
    if left or currency in book.foreign:
        book.foreign[currency] = left
    book.cash -= (amount - used) * rate


def undo_of(book: Book) -> Undo:
    """An empty record of what the next transaction applied to `book` changes."""
    return Undo(_totals(book))


def unapply(book: Book, undo: Undo) -> None:
    """Take back the last transaction applied with `undo` (those after it taken back
    already): O(k) for the k lots it touched (a split: its holding's lots)."""
    holding = undo.holding
    if holding is not None:
        if undo.lot is not None:
            holding.unadd(undo.lot, undo.pooled)
        elif undo.taken is not None:
            holding.untake(undo.taken)
            if book.keep_sales:
                book.sales.pop()
        elif undo.split is not None:
            holding.unsplit(undo.split)
        holding.quantity, holding.cost, holding.native = undo.held
    restore = dict([undo.foreign]) if undo.foreign is not None else undo.conversion or {}
    for currency, before in restore.items():
        if before is None:
            book.foreign.pop(currency, None)
        else:
            book.foreign[currency] = before
    for name, value in zip(_TOTALS, undo.totals, strict=True):
        setattr(book, name, value)


def _touch(book: Book, tx: Transaction, undo: Undo | None) -> Holding:
    holding = book.holding(tx.symbol, tx.currency)
    if undo is not None:
        undo.holding, undo.held = holding, (holding.quantity, holding.cost, holding.native)
    return holding


def _need(tx: Transaction, ok: bool, message: str) -> None:
    if not ok:
        raise CostBasisError(f"{tx.ref or tx.kind}: {message}")


def _part_cost(lot: Lot, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """The cost of `quantity` of a lot (in the portfolio's currency, and in its own),
    rounded; the lot keeps the exact rest."""
    if quantity == lot.quantity:
        return lot.cost, lot.native
    share = (lot.cost * quantity / lot.quantity).quantize(
        _COST_PLACES, rounding=ROUND_HALF_EVEN, context=_WIDE
    )
    if lot.native == lot.cost:
        return share, share
    native = (lot.native * quantity / lot.quantity).quantize(
        _COST_PLACES, rounding=ROUND_HALF_EVEN, context=_WIDE
    )
    return share, native


def _sell(book: Book, tx: Transaction, undo: Undo | None) -> None:
    held = book.holdings.get(tx.symbol)
    quantity = ZERO if held is None else held.quantity
    if tx.quantity > quantity:
        raise InsufficientQuantity(tx, quantity)
    holding = _touch(book, tx, undo)
    taken: list[Taken] | None = None if undo is None else []
    consumed = holding.take(tx.quantity, taken)
    if undo is not None:
        undo.taken = taken
    native = tx.quantity * tx.price - tx.fee
    rate = tx.rate
    proceeds = native if rate == ONE else native * rate
    cost = sum((c.cost for c in consumed), ZERO)
    sale = Sale(
        tx.ref,
        tx.time,
        tx.symbol,
        tx.quantity,
        proceeds,
        cost,
        tuple(consumed),
        tx.currency,
        rate,
        native,
    )
    if book.keep_sales:
        book.sales.append(sale)
    book.realized += sale.realized
    book.sold_cost += cost
    _get(book, tx.currency, native, rate)
    book.fees += tx.fee if rate == ONE else tx.fee * rate
