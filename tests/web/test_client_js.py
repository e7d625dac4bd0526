"""tickstream.js in Chromium against a scripted server (a fake WebSocket): sequence
numbers, gaps, resume after a reconnection, reset snapshots, backoff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import NEEDS_CHROMIUM

pytestmark = NEEDS_CHROMIUM

JS = Path(__file__).parent / "js"


def _no_ids(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "id"} for r in requests]


def _scenario(server: str, browser: Any, script: str) -> Any:
    """What a script of tests/web/js returns, run against the fake WebSocket."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(path=str(JS / "fake_socket.js"))
    page.goto(f"{server}/accounts/login/")
    try:
        return page.evaluate((JS / script).read_text())
    finally:
        context.close()


def test_the_client_keeps_sequences_fills_gaps_and_resumes(server: str, browser: Any) -> None:
    out = _scenario(server, browser, "client_scenario.js")
    assert _no_ids(out["firstRequests"]) == [
        {"op": "subscribe", "channels": ["trades:AAPL", "ticker:AAPL"]}
    ]
    assert out["syncedBeforeGap"] is True and out["syncedAfterGap"] is False
    # A missing trade: the channel is asked for again from the last applied seq.
    assert _no_ids(out["gapRequests"]) == [
        {"op": "unsubscribe", "channels": ["trades:AAPL"]},
        {
            "op": "subscribe",
            "channels": ["trades:AAPL"],
            "since": {"trades:AAPL": 11},
            "epoch": 7,
        },
    ]
    assert out["syncedAfterSnapshot"] is True
    # After the reconnection every channel resumes from where it stopped.
    assert _no_ids(out["resumeRequests"]) == [
        {
            "op": "subscribe",
            "channels": ["trades:AAPL", "ticker:AAPL"],
            "since": {"trades:AAPL": 13, "ticker:AAPL": 13},
            "epoch": 7,
        }
    ]
    assert out["syncedWhileResuming"] is False  # until its snapshot or updates arrive
    assert out["tickerData"] == {"last": "4"}
    assert out["syncedWhileResumingAgain"] is False
    assert out["syncedAfterHistory"] is True  # served from history: whole again
    assert out["events"] == [
        ["trades:AAPL", "snapshot", 10, False],
        ["ticker:AAPL", "snapshot", 10, False],
        ["trades:AAPL", "update", 11, False],
        ["ticker:AAPL", "update", 13, False],
        ["trades:AAPL", "snapshot", 13, True],
        ["ticker:AAPL", "snapshot", 2, True],
        ["ticker:AAPL", "update", 3, False],
        ["ticker:AAPL", "update", 5, False],
    ]
    assert out["states"] == ["live", "reconnecting", "live", "reconnecting", "live"]
    assert out["stats"]["stale"] == 1 and out["stats"]["gaps"] == 1
    assert out["stats"]["resets"] == 2 and out["stats"]["resyncs"] == 1


def test_reconnection_backoff_is_capped_and_jittered(server: str, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/accounts/login/")
    delays = page.evaluate(
        """async () => {
        const { backoffDelay } = await import("/static/tickstream/tickstream.js");
        const b = { initialMs: 500, maxMs: 15000, factor: 2 };
        const range = (a) => [backoffDelay(a, b, () => 0), backoffDelay(a, b, () => 1)];
        return [0, 1, 2, 5, 10].map(range);
    }"""
    )
    context.close()
    assert delays == [[250, 500], [500, 1000], [1000, 2000], [7500, 15000], [7500, 15000]]


def test_an_unavailable_subscription_is_asked_for_again_until_served(
    server: str, browser: Any
) -> None:
    """`unavailable` (the pipeline still starting) is retried with backoff by itself; a
    page that opened too early goes live without a reload."""
    out = _scenario(server, browser, "unavailable_scenario.js")
    assert [s["channels"] for s in out["sent"]] == [["ticker:AAPL"]] * 3
    assert out["errors"] == [] and out["unavailable"] == 2
    assert out["events"] == [["snapshot", 5]] and out["synced"] is True
    assert out["sockets"] == 1  # asked again on the same connection


def test_a_signed_out_socket_is_not_reopened(server: str, browser: Any) -> None:
    out = _scenario(server, browser, "signed_out_scenario.js")
    assert out["states"] == ["live", "signed-out"] and out["sockets"] == 1
