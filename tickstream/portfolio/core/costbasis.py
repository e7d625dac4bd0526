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

A buy's fee is part of its lot's cost; a sale's fee is deducted from its proceeds. A split
(`ratio` new shares per old one, e.g. 4 for 4:1) rescales quantities without changing cost.
Selling more than is held raises `InsufficientQuantity` and changes nothing: no silent
short. Quantities and money are `Decimal`; a partly consumed lot's cost is split so that the
cost of what remains plus the cost of what was sold is exactly the cost that was bought.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum

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
    FEE = "fee"
    SPLIT = "split"


# Same-time order: a split applies to what was held before that moment's trades.
_RANK = {
    Kind.SPLIT: 0,
    Kind.DEPOSIT: 1,
    Kind.BUY: 2,
    Kind.DIVIDEND: 3,
    Kind.SELL: 4,
    Kind.FEE: 5,
    Kind.WITHDRAWAL: 6,
}


class CostBasisError(ValueError):
    """A transaction that cannot be applied; `code` says why."""

    code = "invalid_transaction"


class InsufficientQuantity(CostBasisError):
    code = "insufficient_quantity"


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction. `quantity` is shares for buys and sells, the ratio for a split
    (new shares per old), and the amount of money for cash kinds; `price` is per share."""

    kind: Kind
    time: int  # ns since the epoch
    symbol: str = ""
    quantity: Decimal = ZERO
    price: Decimal = ZERO
    fee: Decimal = ZERO
    ref: str = ""  # the transaction's id, carried into lots and sales

    def sort_key(self) -> tuple[int, int, str, Decimal, Decimal, str]:
        return (self.time, _RANK[self.kind], self.symbol, self.price, self.quantity, self.ref)


@dataclass(slots=True)
class Lot:
    """Shares bought together: what remains of them and what they cost."""

    ref: str
    time: int
    quantity: Decimal
    cost: Decimal

    @property
    def unit_cost(self) -> Decimal:
        return self.cost / self.quantity


@dataclass(frozen=True, slots=True)
class Consumed:
    ref: str  # the lot's transaction
    quantity: Decimal
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Sale:
    ref: str
    time: int
    symbol: str
    quantity: Decimal
    proceeds: Decimal  # after the sale's fee
    cost: Decimal
    lots: tuple[Consumed, ...]

    @property
    def realized(self) -> Decimal:
        return self.proceeds - self.cost


@dataclass(slots=True)
class Holding:
    symbol: str
    lots: list[Lot] = field(default_factory=list)

    @property
    def quantity(self) -> Decimal:
        return sum((lot.quantity for lot in self.lots), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((lot.cost for lot in self.lots), ZERO)

    @property
    def average_cost(self) -> Decimal | None:
        quantity = self.quantity
        return None if quantity == 0 else self.cost / quantity


@dataclass(slots=True)
class Book:
    """Everything the transactions add up to, under one method."""

    method: Method
    holdings: dict[str, Holding] = field(default_factory=dict)
    sales: list[Sale] = field(default_factory=list)
    cash: Decimal = ZERO
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    dividends: Decimal = ZERO
    fees: Decimal = ZERO  # every fee paid: of trades and on their own
    bought: Decimal = ZERO  # the cost of every lot ever bought (fees included)
    implicit: Decimal = ZERO  # money brought in beyond the deposits (cash never < 0)

    @property
    def invested(self) -> Decimal:
        """Net money the investor put in: deposits - withdrawals + what was brought in."""
        return self.deposits - self.withdrawals + self.implicit

    @property
    def realized(self) -> Decimal:
        return sum((s.realized for s in self.sales), ZERO)

    @property
    def sold_cost(self) -> Decimal:
        return sum((s.cost for s in self.sales), ZERO)

    def holding(self, symbol: str) -> Holding:
        found = self.holdings.get(symbol)
        if found is None:
            found = self.holdings[symbol] = Holding(symbol)
        return found


def compute(transactions: Iterable[Transaction], method: Method | str) -> Book:
    """Replay the transactions in trade-time order under `method`. Raises CostBasisError
    (or InsufficientQuantity) on the first transaction that cannot be applied."""
    book = Book(Method(method))
    for tx in sorted(transactions, key=Transaction.sort_key):
        apply(book, tx)
    return book


def apply(book: Book, tx: Transaction) -> None:
    """Apply one transaction (in trade-time order) to a book; all or nothing."""
    if tx.quantity < 0 or tx.price < 0 or tx.fee < 0:
        raise CostBasisError(f"{tx.ref or tx.kind}: quantity, price and fee must be >= 0")
    if tx.kind is Kind.BUY:
        _need(tx, tx.quantity > 0, "a buy needs a quantity above zero")
        cost = tx.quantity * tx.price + tx.fee
        holding = book.holding(tx.symbol)
        lot = Lot(tx.ref, tx.time, tx.quantity, cost)
        if book.method is Method.AVERAGE and holding.lots:
            pooled = holding.lots[0]
            pooled.quantity += lot.quantity
            pooled.cost += lot.cost
        else:
            holding.lots.append(lot)
        book.cash -= cost
        book.bought += cost
        book.fees += tx.fee
    elif tx.kind is Kind.SELL:
        _need(tx, tx.quantity > 0, "a sale needs a quantity above zero")
        _sell(book, tx)
    elif tx.kind is Kind.SPLIT:
        _need(tx, tx.quantity > 0, "a split needs a ratio above zero (4 for 4:1)")
        for lot in book.holding(tx.symbol).lots:
            lot.quantity *= tx.quantity
    elif tx.kind is Kind.DEPOSIT:
        book.cash += tx.quantity
        book.deposits += tx.quantity
    elif tx.kind is Kind.WITHDRAWAL:
        book.cash -= tx.quantity
        book.withdrawals += tx.quantity
    elif tx.kind is Kind.DIVIDEND:
        book.cash += tx.quantity - tx.fee
        book.dividends += tx.quantity
        book.fees += tx.fee
    elif tx.kind is Kind.FEE:
        book.cash -= tx.quantity + tx.fee
        book.fees += tx.quantity + tx.fee
    if book.cash < 0:
        book.implicit -= book.cash
        book.cash = ZERO


def _need(tx: Transaction, ok: bool, message: str) -> None:
    if not ok:
        raise CostBasisError(f"{tx.ref or tx.kind}: {message}")


def _order(lots: list[Lot], method: Method) -> list[Lot]:
    if method is Method.LIFO:
        return sorted(lots, key=lambda lot: lot.time, reverse=True)
    if method is Method.HIFO:
        return sorted(lots, key=lambda lot: (-lot.unit_cost, lot.time))
    return sorted(lots, key=lambda lot: lot.time)  # fifo; average has one lot


def _part_cost(lot: Lot, quantity: Decimal) -> Decimal:
    """The cost of `quantity` of a lot, rounded; the lot keeps the exact rest."""
    if quantity == lot.quantity:
        return lot.cost
    share = (lot.cost * quantity / lot.quantity).quantize(
        _COST_PLACES, rounding=ROUND_HALF_EVEN, context=_WIDE
    )
    return share


def _sell(book: Book, tx: Transaction) -> None:
    holding = book.holding(tx.symbol)
    held = holding.quantity
    if tx.quantity > held:
        raise InsufficientQuantity(
            f"{tx.ref or 'sale'}: selling {tx.quantity} {tx.symbol} with {held} held"
        )
    left = tx.quantity
    consumed: list[Consumed] = []
    for lot in _order(holding.lots, book.method):
        if left == 0:
            break
        take = min(left, lot.quantity)
        cost = _part_cost(lot, take)
        consumed.append(Consumed(lot.ref, take, cost))
        lot.quantity -= take
        lot.cost -= cost
        left -= take
    holding.lots = [lot for lot in holding.lots if lot.quantity > 0]
    proceeds = tx.quantity * tx.price - tx.fee
    cost = sum((c.cost for c in consumed), ZERO)
    book.sales.append(
        Sale(tx.ref, tx.time, tx.symbol, tx.quantity, proceeds, cost, tuple(consumed))
    )
    book.cash += proceeds
    book.fees += tx.fee
