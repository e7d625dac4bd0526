"""A portfolio's transactions replayed once and kept (pure): the book under its cost-basis
method and the state at the end of each day, so that what the next transaction changes
costs O(log n), not a replay of the whole history.

- `Replay.of(transactions, method)` replays them all: O(n log n).
- `append(tx)` applies a transaction that comes after every kept one in trade-time order
  (the usual case: a new trade, a paper fill): O(log n) for the book, O(s) for the s
  symbols held in the day's state. Refused transactions (`CostBasisError`) change nothing.
- `changed(...)` is the replay with transactions removed and added anywhere in the
  history: a replay of the kept transactions (from memory, O(n log n)).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from tickstream.portfolio.core.costbasis import Book, Method, Transaction, apply
from tickstream.portfolio.core.history import Timeline, day_of


class Replay:
    """The kept result of a portfolio's transactions."""

    __slots__ = ("method", "book", "timeline", "transactions", "symbols")

    def __init__(self, method: Method | str, *, keep_sales: bool = False) -> None:
        self.method = Method(method)
        # Each sale's consumed lots are for reports; what is kept needs only the totals.
        self.book = Book(self.method, keep_sales=keep_sales)
        self.timeline = Timeline()
        self.transactions: list[Transaction] = []  # in trade-time order
        self.symbols: set[str] = set()  # every symbol ever traded

    @classmethod
    def of(
        cls, transactions: Iterable[Transaction], method: Method | str, *, keep_sales: bool = False
    ) -> Replay:
        """Replay transactions in any order; CostBasisError on the first that cannot be
        applied."""
        replay = cls(method, keep_sales=keep_sales)
        for tx in sorted(transactions, key=Transaction.sort_key):
            replay._apply(tx)
        return replay

    def extends(self, tx: Transaction) -> bool:
        """Whether `tx` comes after every kept transaction in trade-time order."""
        return not self.transactions or tx.sort_key() > self.transactions[-1].sort_key()

    def append(self, tx: Transaction) -> None:
        """Apply one more transaction that `extends` the history."""
        if not self.extends(tx):
            raise ValueError(f"{tx.ref}: not after the last kept transaction")
        self._apply(tx)

    def changed(self, *, removed: Iterable[str] = (), added: Iterable[Transaction] = ()) -> Replay:
        """A new replay without the transactions of refs `removed` and with `added` (this
        one is left as it was)."""
        gone = set(removed)
        kept = [t for t in self.transactions if t.ref not in gone]
        return Replay.of([*kept, *added], self.method, keep_sales=self.book.keep_sales)

    def _apply(self, tx: Transaction) -> None:
        apply(self.book, tx)
        self.timeline.note(self.book, tx)
        self.transactions.append(tx)
        if tx.symbol:
            self.symbols.add(tx.symbol)

    @property
    def first_day(self) -> date | None:
        return day_of(self.transactions[0].time) if self.transactions else None
