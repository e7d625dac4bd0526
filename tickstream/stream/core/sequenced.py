"""The sequenced family of the fan-out (pure): groups whose messages the event log numbers
(`orders`, `alerts`, a portfolio's changes), the same on every process.

Each group's messages are applied in order: a duplicate is dropped, one ahead of a missing
number is held until the number arrives or the log fills it. The sequencer decides and
returns: what is now next in order (to emit), and whether the driver must read the log.
"""

from __future__ import annotations

from tickstream.stream.core.views import Message


class Sequencer:
    """The numbering state of the sequenced groups followed here."""

    def __init__(self, stats: dict[str, int]) -> None:
        self.stats = stats  # the fan-out's counters: duplicates, reordered, published_gaps
        self._last: dict[str, int] = {}  # the last number applied, per group
        self._held: dict[str, dict[int, Message]] = {}  # arrived ahead of a missing one
        self._starting: set[str] = set()  # joined; waiting for the log's number
        self._filling: set[str] = set()  # the driver reads the log for these

    def starting(self, key: str) -> None:
        """A group was just joined: hold its messages until `start` says where its
        numbers are."""
        if key not in self._last:
            self._starting.add(key)

    def is_starting(self, key: str) -> bool:
        return key in self._starting

    def known(self, key: str) -> bool:
        """Whether the group's numbers are known here."""
        return key in self._last

    def last(self, key: str) -> int:
        """The last number of a group applied here (0 before any)."""
        return self._last.get(key, 0)

    def groups(self) -> list[str]:
        return list(self._last)

    def accept(self, m: Message) -> tuple[list[Message], bool]:
        """A numbered message of its group: the messages now next in order (it, then any
        held after it), and whether the driver must fill a gap from the log."""
        key, seq = m["group"], m["seq"]
        if key in self._starting:
            self._held.setdefault(key, {})[seq] = m
            return [], False
        last = self._last.get(key, seq - 1)
        if seq <= last:
            self.stats["duplicates"] += 1
            return [], False
        if seq > last + 1:
            self.stats["reordered"] += 1
            self._held.setdefault(key, {})[seq] = m
            return [], self.needs_fill(key)
        return self._in_order(key, m), False

    def _in_order(self, key: str, m: Message | None) -> list[Message]:
        out: list[Message] = []
        held = self._held.get(key, {})
        while m is not None:
            self._last[key] = m["seq"]
            out.append(m)
            m = held.pop(m["seq"] + 1, None)
        if not held:
            self._held.pop(key, None)
        return out

    def start(self, key: str, current: int) -> tuple[list[Message], bool]:
        """The log's number of a group when this process joined it: what arrived up to it
        is in every snapshot and history read after; the rest, in order."""
        if key not in self._starting:
            return [], False
        self._starting.discard(key)
        self._last[key] = current
        held = self._held.pop(key, {})
        out: list[Message] = []
        fill = False
        for seq in sorted(held):
            ready, gap = self.accept(held[seq])
            out += ready
            fill = fill or gap
        return out, fill

    def needs_fill(self, key: str) -> bool:
        """Mark a group as being filled from the log; False if it is already."""
        if key in self._filling:
            return False
        self._filling.add(key)
        return True

    def fill(
        self, key: str, events: list[Message]
    ) -> tuple[list[Message], tuple[int, int] | None, list[Message]]:
        """The log's messages past the last applied one: what is now next in order; if a
        gap remains, the numbers the log no longer holds (first, last), and what follows
        it from the messages held (the group goes on from those)."""
        self._filling.discard(key)
        if key not in self._last:
            return [], None, []
        out: list[Message] = []
        for m in events:
            if m["seq"] == self._last[key] + 1:
                out += self._in_order(key, m)
        held = self._held.get(key)
        if not held:
            return out, None, []
        first, last = self._last[key] + 1, min(held) - 1
        self.stats["published_gaps"] += 1
        self._last[key] = last
        return out, (first, last), self._in_order(key, held.pop(last + 1))

    def forget(self, key: str) -> bool:
        """Nobody here follows the group any more; whether it was sequenced."""
        sequenced = self._last.pop(key, None) is not None or key in self._starting
        self._held.pop(key, None)
        self._starting.discard(key)
        return sequenced
