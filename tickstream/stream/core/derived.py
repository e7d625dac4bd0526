"""The derived family of the fan-out (pure): values an app derives from market quotes (a
portfolio's valuation), the symbols each follows, and which moved since the last flush.

It decides and returns; it never sends. `mark` gives the values whose quotes moved (to be
published as conflated updates), `apply` a published change and the symbols to start and
stop following, `remove` a value nobody reads any more.
"""

from __future__ import annotations

from typing import Any, Protocol

from tickstream.stream.core.views import Message


class Derived(Protocol):
    """A value an app derives from market quotes (a `DerivedKind`'s `derive`): the core
    marks it with new quotes and, when it changed, sends `update()` (what moved with the
    prices); a subscriber starts from `data()` (the whole value), which is also sent after
    a published change was applied.

    A value may also have `share(space)`: it is called once, before any mark, with a
    dict kept per fan-out, where values of one kind keep what they derive alike from the
    same quotes (a portfolio's parsed prices), so it is derived once per process, not
    once per value. Every value marked in a flush gets the same `quotes` mapping, never
    changed after it was handed over."""

    def symbols(self) -> frozenset[str]: ...

    def mark_quotes(self, quotes: dict[str, Message | None]) -> bool: ...

    def apply(self, change: Any) -> None: ...

    def data(self) -> Any: ...

    def update(self) -> Any: ...


class DerivedValues:
    """Every derived value of this process, keyed by its broker group."""

    def __init__(self) -> None:
        self.values: dict[str, Derived] = {}
        self.followers: dict[str, set[str]] = {}  # symbol -> keys of the values that follow it
        self._ticked: set[str] = set()  # followed symbols that moved since the last flush
        self._remarked: dict[str, None] = {}  # values marked outside a flush
        self._whole: set[str] = set()  # values whose pending update must be whole
        self.space: dict[str, Any] = {}  # what values share (`Derived`)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def add(self, key: str, value: Derived) -> list[str]:
        """Start deriving `key`; the symbols it names, to be followed."""
        self.values[key] = value
        share = getattr(value, "share", None)
        if share is not None:
            share(self.space)
        return sorted(value.symbols())

    def follow(self, key: str, symbol: str, quote: Message | None, *, announce: bool) -> None:
        """`key` follows a symbol (whose view is loaded): marked with its quote at once
        (sent at the next flush if `announce`), and after every flush in which it moved."""
        value = self.values.get(key)
        if value is None or symbol not in value.symbols():
            return
        self.followers.setdefault(symbol, set()).add(key)
        if value.mark_quotes({symbol: quote}) and announce:
            self._remarked[key] = None

    def followed(self, symbol: str) -> bool:
        return bool(self.followers.get(symbol))

    def ticked(self, symbol: str) -> None:
        """A symbol's view changed: its followers are marked at the next flush."""
        if symbol in self.followers:
            self._ticked.add(symbol)

    def pending(self) -> bool:
        return bool(self._ticked or self._remarked)

    def mark(self, quotes: dict[str, Message | None]) -> list[str]:
        """Mark every value that follows a symbol that moved (`quotes` of those in
        `moved()`), each once with all of them; the keys whose value changed. O(values
        affected x symbols moved)."""
        changed, self._remarked = self._remarked, {}
        followers = self.followers
        affected = set().union(*[followers[s] for s in quotes if s in followers])
        values = self.values
        for key in affected:
            if values[key].mark_quotes(quotes):
                changed[key] = None
        self._ticked.clear()
        return list(changed)

    def moved(self) -> set[str]:
        return self._ticked

    def update_data(self, key: str) -> Any:
        """What an update of `key` carries: the whole value after a change, else what
        moved with the prices."""
        value = self.values[key]
        return value.data() if key in self._whole else value.update()

    def apply(self, key: str, change: Any) -> tuple[list[str], list[str]]:
        """A published change of `key` (its app's data changed): applied; the symbols it
        now names that must be followed, and those it no longer follows that nothing else
        here follows (to release). Its next update is whole."""
        value = self.values[key]
        before = {s for s, keys in self.followers.items() if key in keys}
        value.apply(change)
        self._whole.add(key)
        now = value.symbols()
        released = [s for s in sorted(before - now) if self._unfollow(key, s)]
        return sorted(now - before), released

    def remove(self, key: str) -> list[str]:
        """Nobody reads `key` any more: the symbols it alone followed."""
        if self.values.pop(key, None) is None:
            return []
        self._remarked.pop(key, None)
        self._whole.discard(key)
        return [s for s in list(self.followers) if self._unfollow(key, s)]

    def _unfollow(self, key: str, symbol: str) -> bool:
        """`key` stops following `symbol`; True if no value follows it any more."""
        keys = self.followers.get(symbol)
        if keys is None or key not in keys:
            return False
        keys.discard(key)
        if keys:
            return False
        del self.followers[symbol]
        self._ticked.discard(symbol)
        return True

    def data(self, key: str) -> Any:
        return self.values[key].data()

    def flushed(self) -> None:
        self._whole.clear()
