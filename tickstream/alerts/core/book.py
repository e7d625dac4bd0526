"""Price alerts of every user, evaluated per tick in O(log n) (pure: no Django, no asyncio).

An alert watches one symbol for one condition:

- `above` / `below`: the price reaching a level (>= / <=);
- `move_up` / `move_down`: the price moving `percent` % up / down from the session open
  (a level the book derives from the open, re-derived when a new session opens).

Each alert fires **once per crossing**: when it fires it is disarmed, and it re-arms only
after the price has crossed back to the other side of its level. An alert whose level is
already passed when the book first sees it starts disarmed (it waits for a crossing); the
book keeps the last price of every symbol it was given, so that is the price when the
alert arrives, never a later one.

Per symbol the book keeps four lists sorted by level (armed and disarmed, for each side),
so a price finds what fires and what re-arms by bisection: O(log n + k) for k changes,
never a scan of the symbol's alerts.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

HUNDRED = Decimal(100)


class Condition(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    MOVE_UP = "move_up"
    MOVE_DOWN = "move_down"

    @property
    def upward(self) -> bool:
        return self in (Condition.ABOVE, Condition.MOVE_UP)

    @property
    def relative(self) -> bool:
        return self in (Condition.MOVE_UP, Condition.MOVE_DOWN)


@dataclass(slots=True)
class Alert:
    """One alert as the book holds it; `armed` None: not known yet (set at the first price)."""

    id: int
    symbol: str
    condition: Condition
    value: Decimal  # the level, or the percent of a move
    armed: bool | None = None
    level: Decimal | None = None  # the price that fires it (None: a move before any open)


@dataclass(frozen=True, slots=True)
class Change:
    """An alert fired (`fired`) or re-armed (`fired` False) at `price`."""

    id: int
    fired: bool
    price: Decimal
    level: Decimal
    reference: Decimal | None  # the session open of a move alert


_Key = tuple[Decimal, int]


@dataclass(slots=True)
class _Side:
    armed: list[_Key] = field(default_factory=list)
    disarmed: list[_Key] = field(default_factory=list)


@dataclass(slots=True)
class _Symbol:
    up: _Side = field(default_factory=_Side)
    down: _Side = field(default_factory=_Side)
    open: Decimal | None = None
    last: Decimal | None = None
    pending: list[int] = field(default_factory=list)  # alerts without a known state


class AlertBook:
    """Every active alert, by symbol and level."""

    def __init__(self) -> None:
        self.alerts: dict[int, Alert] = {}
        self._symbols: dict[str, _Symbol] = {}

    def __len__(self) -> int:
        return len(self.alerts)

    def add(self, alert: Alert) -> None:
        """Add (or replace) an alert."""
        self.remove(alert.id)
        self.alerts[alert.id] = alert
        book = self._symbols.setdefault(alert.symbol, _Symbol())
        if alert.condition.relative:
            alert.level = _move_level(alert, book.open)
        else:
            alert.level = alert.value
        self._place(book, alert)

    def remove(self, alert_id: int) -> Alert | None:
        alert = self.alerts.pop(alert_id, None)
        if alert is None:
            return None
        book = self._symbols[alert.symbol]
        if alert.id in book.pending:
            book.pending.remove(alert.id)
        if alert.level is not None:
            side = book.up if alert.condition.upward else book.down
            key = (alert.level, alert.id)
            for keys in (side.armed, side.disarmed):
                index = bisect.bisect_left(keys, key)
                if index < len(keys) and keys[index] == key:
                    del keys[index]
        return alert

    def _place(self, book: _Symbol, alert: Alert) -> None:
        if alert.level is None:
            return  # a move alert waits for the session open
        if alert.armed is None:
            if book.last is None:
                book.pending.append(alert.id)
                return
            alert.armed = not _reached(alert, book.last)
        side = book.up if alert.condition.upward else book.down
        bisect.insort(side.armed if alert.armed else side.disarmed, (alert.level, alert.id))

    def on_price(
        self, symbol: str, price: Decimal, session_open: Decimal | None = None
    ) -> list[Change]:
        """A new price (and the session open) of `symbol`: what fires and what re-arms."""
        book = self._symbols.get(symbol)
        if book is None:
            # Remember the price: an alert added later is placed against it at once, not
            # against whatever price comes next (which may have crossed it meanwhile).
            self._symbols[symbol] = _Symbol(open=session_open, last=price)
            return []
        if session_open is not None and session_open != book.open:
            self._new_session(symbol, book, session_open)
        book.last = price
        if book.pending:
            pending, book.pending = book.pending, []
            for alert_id in pending:
                self._place(book, self.alerts[alert_id])
        changes: list[Change] = []
        up, down = book.up, book.down
        # Up: armed levels <= price fire; disarmed levels > price re-arm.
        if up.armed and up.armed[0][0] <= price:
            cut = bisect.bisect_right(up.armed, (price, _MAX_ID))
            self._move(up.armed[:cut], up.disarmed, changes, price, True)
            del up.armed[:cut]
        if up.disarmed and up.disarmed[-1][0] > price:
            cut = bisect.bisect_right(up.disarmed, (price, _MAX_ID))
            self._move(up.disarmed[cut:], up.armed, changes, price, False)
            del up.disarmed[cut:]
        # Down: armed levels >= price fire; disarmed levels < price re-arm.
        if down.armed and down.armed[-1][0] >= price:
            cut = bisect.bisect_left(down.armed, (price, _MIN_ID))
            self._move(down.armed[cut:], down.disarmed, changes, price, True)
            del down.armed[cut:]
        if down.disarmed and down.disarmed[0][0] < price:
            cut = bisect.bisect_left(down.disarmed, (price, _MIN_ID))
            self._move(down.disarmed[:cut], down.armed, changes, price, False)
            del down.disarmed[:cut]
        return changes

    def _move(
        self, keys: list[_Key], into: list[_Key], changes: list[Change], price: Decimal, fired: bool
    ) -> None:
        for key in keys:
            alert = self.alerts[key[1]]
            alert.armed = not fired
            bisect.insort(into, key)
            reference = self._symbols[alert.symbol].open if alert.condition.relative else None
            changes.append(Change(alert.id, fired, price, key[0], reference))

    def _new_session(self, symbol: str, book: _Symbol, session_open: Decimal) -> None:
        """A new session open: move alerts get new levels and wait for a crossing again."""
        book.open = session_open
        moving = [a for a in self.alerts.values() if a.symbol == symbol and a.condition.relative]
        for alert in moving:
            self.remove(alert.id)
            alert.armed = None
            self.add(alert)


_MAX_ID = 1 << 62
_MIN_ID = -1


def _reached(alert: Alert, price: Decimal) -> bool:
    level = alert.level
    if level is None:
        return False
    return price >= level if alert.condition.upward else price <= level


def _move_level(alert: Alert, session_open: Decimal | None) -> Decimal | None:
    if session_open is None:
        return None
    factor = (
        HUNDRED + alert.value if alert.condition is Condition.MOVE_UP else HUNDRED - alert.value
    )
    return session_open * factor / HUNDRED
