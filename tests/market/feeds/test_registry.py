"""The feed registry (every kind builds itself from its FEEDS entry) and the one
supervisor every feed runs under (reconnect, backoff, silence)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tickstream.market.core.instruments import DEFAULT_UNIVERSE
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.base import Disconnected, Emit, Feed, FeedFailed, supervise
from tickstream.market.feeds.health import FeedState
from tickstream.market.feeds.registry import FEED_KINDS, build_feeds, feed_class
from tickstream.market.feeds.replay import ReplayFeed
from tickstream.market.feeds.simulated import SimulatedFeed
from tickstream.market.feeds.spec import FeedConfigError

SPECS = list(DEFAULT_UNIVERSE)
FIXTURE = Path(__file__).parents[2] / "fixtures" / "mplfinance" / "SP500_NOV2019_Hist.csv"


def test_every_registered_kind_is_a_feed_of_that_kind() -> None:
    for kind in FEED_KINDS:
        cls = feed_class(kind)
        assert issubclass(cls, Feed) and cls.kind == kind
        assert cls.from_spec is not Feed.from_spec, f"{kind} must build itself from its spec"


def test_entries_build_their_kinds_with_their_options() -> None:
    sim, replay = build_feeds(
        "simulated rate=10 seed=7 symbols=AAPL,BTC-USD;"
        f" replay symbol=spy file={FIXTURE} speed=max",
        SPECS,
        sim_defaults={"rate": 50, "speed": 5},
    )
    assert isinstance(sim, SimulatedFeed) and sim.symbols() == ["AAPL", "BTC-USD"]
    assert (sim.rate, sim.seed, sim.speed) == (10, 7, 5)
    assert isinstance(replay, ReplayFeed) and (replay.symbol, replay.speed) == ("SPY", None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("weather city=Oslo", "unknown feed 'weather': use simulated, replay, exchange, alpaca"),
        ("simulated rate=1 rate=2", "rate is given twice"),
        ("simulated rate", "'rate' is not key=value"),
        ("simulated colour=red", "unknown option 'colour'"),
        ("simulated rate=-1", "rate must be a finite number"),
        ("simulated symbols=NOPE", "unknown symbols"),
        ("simulated stock_hours=sometimes", "stock_hours must be always or exchange"),
        ("replay symbol=SPY", "replay needs symbol=... and file=..."),
        ("replay symbol=SPY file=/no/such.csv", "no file"),
        (f"replay symbol=SPY file={FIXTURE} speed=0", "speed must be positive or max"),
        ("simulated 'rate=1", "No closing quotation"),
    ],
)
def test_a_bad_entry_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(FeedConfigError, match=problem.replace("(", r"\(")):
        build_feeds(text, SPECS)


class Scripted(Feed):
    """Sessions that do what a script says: emit ticks, then end, fail or fall silent."""

    kind = "scripted"
    backoff_base_s = 0.001
    backoff_cap_s = 0.001

    def __init__(self, script: list[str], *, silence_s: float = 0.0) -> None:
        self.script = list(script)
        self.silence_s = silence_s
        self.sessions = 0

    async def run(self, emit: Emit) -> None:
        self.sessions += 1
        step = self.script.pop(0)
        if step == "tick":
            emit(Tick("AAPL", 1, 1, self.sessions, self.sessions, "t"))  # type: ignore[arg-type]
            raise Disconnected("dropped after a tick")
        if step == "drop":
            raise Disconnected("dropped")
        if step == "crash":
            raise RuntimeError("a bug")
        if step == "silent":
            await asyncio.sleep(3600)
        if step == "fail":
            raise FeedFailed("no retry can help")


async def test_the_supervisor_reconnects_until_the_source_ends() -> None:
    feed = Scripted(["drop", "crash", "tick", "end"])
    seen: list[Tick] = []
    await asyncio.wait_for(supervise(feed, seen.append), 5)
    health = feed.health
    assert feed.sessions == 4 and len(seen) == 1
    assert health.state == FeedState.FINISHED and health.reconnects == 3
    assert dict(health.errors) == {"disconnected": 2, "crash": 1}


async def test_a_feed_that_cannot_work_stops_with_the_reason() -> None:
    feed = Scripted(["drop", "fail", "end"])
    await asyncio.wait_for(supervise(feed, lambda tick: None), 5)
    assert feed.sessions == 2 and feed.health.state == FeedState.FAILED
    assert feed.health.detail == "no retry can help"


async def test_a_silent_session_is_closed_and_a_new_one_started() -> None:
    feed = Scripted(["silent", "silent", "end"], silence_s=0.2)
    await asyncio.wait_for(supervise(feed, lambda tick: None), 5)
    assert feed.sessions == 3 and feed.health.errors["silent"] == 2


async def test_backoff_starts_over_after_a_session_that_received_something(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tickstream.market.feeds import base

    attempts: list[int] = []
    monkeypatch.setattr(base, "backoff_delay", lambda attempt, **_: attempts.append(attempt) or 0.0)
    feed = Scripted(["drop", "drop", "tick", "drop", "end"])
    await asyncio.wait_for(supervise(feed, lambda tick: None), 5)
    assert attempts == [1, 2, 1, 2]
