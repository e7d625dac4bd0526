"""A portfolio's transactions replayed once and kept (pure): the book under its cost-basis
method and the state at the end of each day, so that a change costs what it touches, not
a replay of the whole history.

- `Replay.of(transactions, method)` replays them all: O(n log n).
- `append(tx)` applies a transaction that comes after every kept one in trade-time order
  (the usual case: a new trade, a paper fill): O(log n) for the book, O(s) for the s
  symbols held in the day's state.
- `change(removed=..., added=...)` removes and adds transactions anywhere: the kept
  transactions from the first one the change affects are taken back and applied again
  with the change, O(k log n) for the k transactions from there to the end. The last
  `UNDO` applied transactions keep what they changed (`costbasis.Undo`); a change before
  them (or in the first half of the history) is a replay from the start, O(n log n).
  Keeping an undo record for every transaction would make every replay a third slower and
  its memory grow faster than the history.

A transaction that cannot be applied (`CostBasisError`) changes nothing: `append` checks
before it changes anything, and `change` puts the history back as it was.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from datetime import date

from tickstream.portfolio.core.costbasis import (
    Book,
    CostBasisError,
    Method,
    Transaction,
    Undo,
    apply,
    unapply,
    undo_of,
)
from tickstream.portfolio.core.history import DayEnd, Timeline, day_of

UNDO = 2048  # the latest transactions a change may take back instead of replaying all

# What taking back one applied transaction needs: its undo record and what the timeline's
# last day was before it.
_Back = tuple[Undo, DayEnd | None]


class Replay:
    """The kept result of a portfolio's transactions."""

    __slots__ = ("method", "book", "timeline", "symbols", "_applied", "_back", "_where")

    def __init__(self, method: Method | str, *, keep_sales: bool = False) -> None:
        self.method = Method(method)
        # Each sale's consumed lots are for reports; what is kept needs only the totals.
        self.book = Book(self.method, keep_sales=keep_sales)
        self.timeline = Timeline()
        self.symbols: set[str] = set()  # every symbol traded (taken-back ones too)
        self._applied: list[Transaction] = []  # in trade-time order
        self._back: deque[_Back] = deque(maxlen=UNDO)  # of the last UNDO of `_applied`
        self._where: dict[str, int] = {}  # a transaction's ref: its place in `_applied`

    @classmethod
    def of(
        cls, transactions: Iterable[Transaction], method: Method | str, *, keep_sales: bool = False
    ) -> Replay:
        """Replay transactions in any order; CostBasisError on the first that cannot be
        applied."""
        replay = cls(method, keep_sales=keep_sales)
        ordered = sorted(transactions, key=Transaction.sort_key)
        undone = len(ordered) - UNDO  # only the last UNDO keep what takes them back
        for n, tx in enumerate(ordered):
            replay._apply(tx, keep=n >= undone)
        return replay

    @property
    def transactions(self) -> list[Transaction]:
        """The kept transactions in trade-time order (a copy: O(n))."""
        return list(self._applied)

    def extends(self, tx: Transaction) -> bool:
        """Whether `tx` comes after every kept transaction in trade-time order."""
        return not self._applied or tx.sort_key() > self._applied[-1].sort_key()

    def append(self, tx: Transaction) -> None:
        """Apply one more transaction that `extends` the history."""
        if not self.extends(tx):
            raise ValueError(f"{tx.ref}: not after the last kept transaction")
        self._apply(tx)

    def change(self, *, removed: Iterable[str] = (), added: Iterable[Transaction] = ()) -> int:
        """Remove the transactions of refs `removed` and add `added`, wherever they fall.
        Returns how many kept transactions were taken back and applied again."""
        gone = {ref for ref in removed if ref in self._where}
        new = sorted(added, key=Transaction.sort_key)
        places = [self._where[ref] for ref in gone]
        places += [self._place(tx) for tx in new[:1]]
        if not places:
            return 0
        start = min(places)
        count = len(self._applied)
        if count - start > len(self._back) or 2 * (count - start) > count:
            start = 0  # before what can be taken back, or most of it: a replay
        tail = self._take_back(start)
        again = sorted([t for t in tail if t.ref not in gone] + new, key=Transaction.sort_key)
        try:
            for tx in again:
                self._apply(tx)
        except CostBasisError:
            self._take_back(start)
            for tx in tail:  # as it was: these stood before
                self._apply(tx)
            raise
        return len(tail)

    def _place(self, tx: Transaction) -> int:
        return bisect.bisect_right(self._applied, tx.sort_key(), key=Transaction.sort_key)

    def _apply(self, tx: Transaction, *, keep: bool = True) -> None:
        undo = undo_of(self.book) if keep else None
        apply(self.book, tx, undo)
        replaced = self.timeline.note(self.book, tx)
        self._where[tx.ref] = len(self._applied)
        self._applied.append(tx)
        if undo is not None:
            self._back.append((undo, replaced))
        if tx.symbol:
            self.symbols.add(tx.symbol)

    def _take_back(self, start: int) -> list[Transaction]:
        """Take back every transaction from place `start` on, the last first; returns
        them in trade-time order."""
        if start == 0:
            taken = self.transactions
            self.book = Book(self.method, keep_sales=self.book.keep_sales)
            self.timeline = Timeline()
            self._applied.clear()
            self._back.clear()
            self._where.clear()
            return taken
        taken = []
        while len(self._applied) > start:
            tx = self._applied.pop()
            undo, replaced = self._back.pop()
            unapply(self.book, undo)
            self.timeline.unnote(replaced)
            del self._where[tx.ref]
            taken.append(tx)
        taken.reverse()
        return taken

    @property
    def first_day(self) -> date | None:
        return day_of(self._applied[0].time) if self._applied else None
