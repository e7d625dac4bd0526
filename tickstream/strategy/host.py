"""Hosted strategies: run by the server for their owners, in the process that runs the
pipeline (the web process when embedded, `runfeeds` when split), so each runs once.

A hosted strategy is the paper client (`paper.Paper`), unchanged, on a socket that never
leaves the process: the ASGI application is called directly (`asgi_connect`), signed in
with the owner's API token, so it speaks the websocket protocol, obeys the same limits and
is proved by the same parity test as a strategy run as a program. Its owner starts and
stops it from the strategies page (or the API): the host reads what is wanted every
STRATEGY_HOST_POLL_S and acts. A strategy whose hook raises is stopped, its open orders
cancelled, the reason stored and shown; the server goes on. Each run is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from tickstream.db import Outage, db_call
from tickstream.market.core.engine import TickUpdate

log = logging.getLogger(__name__)


class AsgiSocket:
    """The client side of a websocket to an ASGI application in this process."""

    def __init__(self) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = False

    async def send(self, text: str) -> None:
        if self.closed:
            raise ConnectionError("the socket is closed")
        await self.to_app.put({"type": "websocket.receive", "text": text})

    async def recv(self) -> str:
        message = await self.from_app.get()
        if message["type"] == "websocket.close":
            self.closed = True
            raise ConnectionError(f"the server closed the socket ({message.get('code')})")
        text = message.get("text")
        return text if text is not None else message["bytes"].decode()

    def __aiter__(self) -> AsgiSocket:
        return self

    async def __anext__(self) -> str:
        try:
            return await self.recv()
        except ConnectionError:
            raise StopAsyncIteration from None


@contextlib.asynccontextmanager
async def asgi_connect(application: Any, token: str) -> AsyncIterator[AsgiSocket]:
    """A socket to `application`'s `/ws/v1/`, signed in by `token`."""
    socket = AsgiSocket()
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws/v1/",
        "raw_path": b"/ws/v1/",
        "query_string": b"",
        "headers": [(b"authorization", f"Token {token}".encode())],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "subprotocols": [],
        "extensions": {},
    }

    async def receive() -> dict[str, Any]:
        return await socket.to_app.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] in ("websocket.send", "websocket.close"):
            await socket.from_app.put(message)

    await socket.to_app.put({"type": "websocket.connect"})
    app = asyncio.create_task(application(scope, receive, send), name="hosted strategy socket")
    try:
        yield socket
    finally:
        socket.closed = True
        await socket.to_app.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(app, 5)
        except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
            app.cancel()


@dataclass
class _Running:
    hosted_id: int
    paper: Any
    task: asyncio.Task[Any]
    run_id: int


def _token_of(user: Any) -> str:
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    return str(token.key)


class StrategyHost:
    """Starts, stops and records the hosted strategies (a tick hook for its life only:
    the strategies hear trades through their sockets, like any client)."""

    name = "strategies"

    def __init__(self) -> None:
        self.running: dict[int, _Running] = {}
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage(log, "reading the hosted strategies")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="strategy host")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.gather(*(self._halt(r) for r in list(self.running.values())))

    def on_tick(self, update: TickUpdate) -> None:
        """Nothing on the tick path: hosted strategies follow their channels."""

    async def _supervise(self) -> None:
        while True:
            try:
                await self.reconcile()
                self._outage.ok()
            except Exception as exc:
                self._outage.failed(exc)
            await asyncio.sleep(settings.STRATEGY_HOST_POLL_S)

    async def reconcile(self) -> None:
        """Start what is wanted and not running, stop what runs and is not wanted, and
        record what ended by itself."""
        from tickstream.strategy.models import HostedStrategy

        for running in list(self.running.values()):
            if running.task.done():
                await self._finish(running)
        wanted = await db_call(
            lambda: list(HostedStrategy.objects.filter(wanted=True).select_related("owner"))
        )
        ids = {h.pk for h in wanted}
        for running in list(self.running.values()):
            if running.hosted_id not in ids:
                await self._halt(running)
        for hosted in wanted:
            if hosted.pk in self.running:
                continue
            if len(self.running) >= settings.STRATEGY_HOSTED_MAX:
                await self._refuse(hosted, f"at most {settings.STRATEGY_HOSTED_MAX} run at once")
                continue
            await self._launch(hosted)

    async def _refuse(self, hosted: Any, reason: str) -> None:
        from tickstream.strategy import services

        await db_call(services.hosted_state, hosted_id=hosted.pk, state="failed", error=reason)

    async def _launch(self, hosted: Any) -> None:
        from tickstream.asgi import application
        from tickstream.market.core.analytics.indicators import (
            IndicatorSpecError,
            parse_indicators,
        )
        from tickstream.market.core.analytics.intervals import IntervalError, parse_interval
        from tickstream.market.selectors import instrument_specs
        from tickstream.strategy import services
        from tickstream.strategy.paper import Paper
        from tickstream.strategy.sources import StrategyError, load_strategy, make_strategy, offered

        source = offered().get(hosted.source)
        try:
            if source is None:
                raise StrategyError(f"the server offers no strategy {hosted.source!r}")
            cls = await asyncio.to_thread(load_strategy, source.path)
            strategy = make_strategy(cls, hosted.symbol, hosted.params, hosted.interval)
            indicators = parse_indicators(strategy.indicators())
            interval = parse_interval(hosted.interval)
        except (StrategyError, IndicatorSpecError, IntervalError) as exc:
            await self._refuse(hosted, str(exc))
            return
        specs, token, run = await db_call(
            lambda: (
                instrument_specs(),
                _token_of(hosted.owner),
                services.run_start(owner=hosted.owner, hosted=hosted, data="hosted"),
            )
        )
        paper = Paper(
            strategy,
            url="asgi:",
            token=token,
            symbols=[hosted.symbol],
            instruments=specs,
            intervals=[interval],
            indicators=indicators,
            keep_tape=False,
        )
        task = asyncio.create_task(
            paper.run(connect=asgi_connect(application, token)), name=f"hosted {hosted.name}"
        )
        self.running[hosted.pk] = _Running(hosted.pk, paper, task, run.pk)
        await db_call(services.hosted_state, hosted_id=hosted.pk, state="running", run=run)
        log.info("hosted strategy %s (%s on %s) started", hosted.name, cls.__name__, hosted.symbol)

    async def _halt(self, running: _Running) -> None:
        running.paper.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(running.task), 15)
        await self._finish(running)

    async def _finish(self, running: _Running) -> None:
        """Store the run and say how it ended."""
        from tickstream.strategy import services
        from tickstream.strategy.models import HostedStrategy, Mode, StrategyRun
        from tickstream.strategy.record import record_from_paper

        self.running.pop(running.hosted_id, None)
        paper = running.paper
        if not running.task.done():
            running.task.cancel()
            await asyncio.wait([running.task], timeout=5)
        error = paper.run_.error
        try:
            running.task.result()
        except (asyncio.CancelledError, asyncio.InvalidStateError):
            error = error or "stopped before it finished"
        except Exception as exc:
            error = error or f"{type(exc).__name__}: {exc}"

        def store() -> None:
            hosted = HostedStrategy.objects.filter(pk=running.hosted_id).first()
            row = StrategyRun.objects.filter(pk=running.run_id).first()
            if row is None:
                return
            record = record_from_paper(
                paper,
                mode=Mode.HOSTED,
                strategy=type(paper.strategy).__name__,
                source=row.source,
                params=row.params,
                data="hosted",
            )
            record.error = error
            services.run_store(record, run=row)
            if hosted is not None:
                state = "failed" if error else "stopped"
                services.hosted_state(hosted_id=hosted.pk, state=state, error=error or "")

        await db_call(store)
        log.info("hosted strategy %s ended%s", running.hosted_id, f": {error}" if error else "")
