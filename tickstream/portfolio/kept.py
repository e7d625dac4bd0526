"""The replays each process keeps (`core.replay.Replay`): a portfolio's history is read
from the database and replayed once per change of its `revision`, not per request.

Readers take the kept replay of the revision they read (`reading`), building it on a
miss. A writer, holding the portfolio's row lock, takes the replay out (`take`), changes
it, and puts it back with the new revision when its transaction commits (`keep`): a
rolled-back change leaves nothing behind, and another process's change (a newer revision
in the row) is never hidden by a stale replay. At most `PORTFOLIO_KEPT` are kept, the
least recently used dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from tickstream.portfolio.core import costbasis as core
from tickstream.portfolio.core.replay import Replay
from tickstream.portfolio.models import Portfolio, Transaction

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def pure_transaction(row: Transaction) -> core.Transaction:
    """A stored transaction as the cost-basis core takes it."""
    return core.Transaction(
        kind=core.Kind(row.kind),
        time=(row.time - EPOCH) // timedelta(microseconds=1) * 1000,
        symbol=row.instrument.symbol if row.instrument_id else "",
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        ref=str(row.pk),
        currency=row.currency,
        rate=row.rate if row.currency else core.ONE,
        pair=_pair(row),
    )


def _pair(row: Transaction) -> str | None:
    """The currency an exchange-rate instrument buys ("": the portfolio's), else None."""
    instrument = row.instrument
    if instrument is None or instrument.kind != instrument.Kind.FX:
        return None
    bought = instrument.symbol.split("-", 1)[0]
    return "" if bought == row.portfolio.currency else bought


def pure_transactions(portfolio: Portfolio) -> list[core.Transaction]:
    """Every transaction of the portfolio (all its rows: a replay's one read)."""
    rows = portfolio.transactions.select_related("instrument").order_by("time", "id")
    return [pure_transaction(t) for t in rows]


@dataclass(slots=True)
class _Entry:
    stamp: tuple[int, object]  # (revision, created_at): a row of another life never matches
    replay: Replay
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def revision(self) -> int:
        return self.stamp[0]


def _stamp(portfolio: Portfolio) -> tuple[int, object]:
    return (portfolio.revision, portfolio.created_at)


class KeptReplays:
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0  # replays read from the database (for tests and benchmarks)

    def _fresh(self, portfolio: Portfolio) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(portfolio.pk)
            if entry is None:
                return None
            if entry.stamp != _stamp(portfolio) or entry.replay.method != portfolio.method:
                return None
            self._entries.move_to_end(portfolio.pk)
            return entry

    def _build(self, portfolio: Portfolio) -> Replay:
        self.builds += 1
        return Replay.of(pure_transactions(portfolio), portfolio.method)

    @contextmanager
    def reading(self, portfolio: Portfolio) -> Iterator[Replay]:
        """The replay of `portfolio` as read, held still while the block runs."""
        entry = self._fresh(portfolio)
        if entry is None:
            entry = _Entry(_stamp(portfolio), self._build(portfolio))
            self._put(portfolio.pk, entry)
        with entry.lock:
            yield entry.replay

    def take(self, portfolio: Portfolio) -> Replay:
        """The replay of the locked row `portfolio`, out of the store for a writer."""
        entry = self._fresh(portfolio)
        with self._lock:
            self._entries.pop(portfolio.pk, None)
        if entry is None:
            return self._build(portfolio)
        with entry.lock:  # readers that had it are done with it
            return entry.replay

    def keep(self, portfolio: Portfolio, replay: Replay, *, committed: bool = True) -> None:
        """`replay` is `portfolio` at its revision: kept now, or once the change commits."""
        entry = _Entry(_stamp(portfolio), replay)
        if committed:
            self._put(portfolio.pk, entry)
        else:
            transaction.on_commit(lambda: self._put(portfolio.pk, entry))

    def _put(self, pk: int, entry: _Entry) -> None:
        with self._lock:
            current = self._entries.get(pk)
            if current is not None and current.revision > entry.revision:
                return  # a newer one came first
            self._entries[pk] = entry
            self._entries.move_to_end(pk)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


KEPT = KeptReplays(settings.PORTFOLIO_KEPT)
