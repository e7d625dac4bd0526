"""The published family of the fan-out (pure): channels fed by `publish` (an app's events,
feed health), numbered and kept for resume per broker group, and the conflated ones whose
latest value waits for the next flush.

It decides and returns: `record` numbers a message and keeps it, and says whether it goes
now or at the flush; what to send to whom is the router's.
"""

from __future__ import annotations

from collections import deque

from tickstream.stream.core.views import Message, update_of

PUBLISHED_HISTORY = 100  # messages kept per group for resume


class Published:
    """Every published group's numbering, history and conflated value."""

    def __init__(self, stats: dict[str, int]) -> None:
        self.stats = stats  # the fan-out's counters: conflated
        self._history: dict[str, deque[tuple[int, Message]]] = {}
        self._seq: dict[str, int] = {}
        self._latest: dict[str, Message] = {}  # conflated groups' value for the next flush

    def record(self, key: str, m: Message, *, numbered: bool, whole: bool) -> Message | None:
        """Number `m` (with its own `seq` if `numbered`: the event log's; else this
        process's next) and keep it; the `update` to send now, or None when it is
        conflated (sent by the next flush). A `whole` value is kept alone: a resume needs
        only the latest. O(1)."""
        if whole and not numbered and m.get("conflate"):  # a derived value's
            self.conflate(key, m["channel"], m["data"])
            return None
        seq = m["seq"] if numbered else self._seq.get(key, 0) + 1
        self._seq[key] = seq
        update = update_of(m, seq)
        depth = 1 if whole else PUBLISHED_HISTORY
        history = self._history.get(key)
        if history is None or history.maxlen != depth:
            history = self._history[key] = deque(history or (), maxlen=depth)
        history.append((seq, update))
        if m.get("conflate"):
            if key in self._latest:
                self.stats["conflated"] += 1
            self._latest[key] = update
            return None
        return update

    def conflate(self, key: str, channel: str, data: object) -> None:
        """A derived value's update, numbered here and kept alone (a resume needs only
        the latest): sent by the next flush. What `record` does for a whole, conflated
        message, called directly: it runs for every live portfolio at every flush."""
        seq = self._seq[key] = self._seq.get(key, 0) + 1
        update = {"type": "update", "channel": channel, "seq": seq, "data": data}
        history = self._history.get(key)
        if history is None or history.maxlen != 1:
            history = self._history[key] = deque(maxlen=1)
        history.append((seq, update))
        if key in self._latest:
            self.stats["conflated"] += 1
        self._latest[key] = update

    def since(self, key: str, since: int) -> list[Message]:
        """The kept updates of a group past `since`."""
        return [m for s, m in self._history.get(key, ()) if s > since]

    def updates(self, key: str) -> dict[int, Message]:
        return dict(self._history.get(key, ()))

    def last_update(self, key: str) -> tuple[int, Message] | None:
        history = self._history.get(key)
        return history[-1] if history else None

    def seq(self, key: str) -> int:
        """The seq of the last event published on a group (0 before any)."""
        return self._seq.get(key, 0)

    def covers(self, key: str, since: int) -> bool:
        """Whether the history of a group holds every event past `since`. Not when
        `since` is a number this process never gave (a client that resumes after a
        restart, or on another process: they number on their own), nor when the history
        no longer reaches back to it."""
        last = self._seq.get(key, 0)
        if since == last:
            return True
        if since > last or since < 0:
            return False
        held = {s for s, _ in self._history.get(key, ())}
        return all(s in held for s in range(since + 1, last + 1))

    def take_latest(self) -> dict[str, Message]:
        """The conflated values for this flush (then none are pending)."""
        latest, self._latest = self._latest, {}
        return latest

    def forget(self, key: str, *, history: bool) -> None:
        """Nobody here follows the group any more: its pending value goes, and its
        numbering and history if `history` (a sequenced group's numbers are the log's)."""
        self._latest.pop(key, None)
        if history:
            self._history.pop(key, None)
            self._seq.pop(key, None)
