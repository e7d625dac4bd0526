"""The long-running processes' event loop: uvloop where installed, as uvicorn's."""

from __future__ import annotations

import asyncio

import pytest

from tickstream import eventloop


def test_a_process_runs_on_uvloop_where_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop", reason="uvloop comes with uvicorn[standard]")

    async def which() -> type:
        return type(asyncio.get_running_loop())

    assert eventloop.run(which()) is uvloop.Loop


def test_without_uvloop_it_is_asyncio_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop, "loop_factory", lambda: None)

    async def which() -> type:
        return type(asyncio.get_running_loop())

    assert issubclass(eventloop.run(which()), asyncio.BaseEventLoop)
