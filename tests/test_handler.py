"""The ASGI handler: requests on a fixed set of long-lived threads, one hop each."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from django.core import signals
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import include, path

from tests.asgi import get
from tickstream.handler import PooledASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)

SEEN: list[tuple[str, str]] = []  # (what, the thread it ran on)


def plain(request: Any) -> HttpResponse:
    from django.db import connection

    SEEN.append(("view", threading.current_thread().name))
    connection.ensure_connection()
    SEEN.append(("connection", str(id(connection.connection))))
    return HttpResponse(b"plain")


def streamed(request: Any) -> StreamingHttpResponse:
    async def parts() -> AsyncIterator[bytes]:
        yield b"one,"
        SEEN.append(("streaming", threading.current_thread().name))
        yield b"two"

    return StreamingHttpResponse(parts())


urlpatterns = [
    path("plain/", plain),
    path("streamed/", streamed),
    path("", include("tickstream.urls")),
]


def _started(**kwargs: Any) -> None:
    SEEN.append(("started", threading.current_thread().name))


def _finished(**kwargs: Any) -> None:
    SEEN.append(("finished", threading.current_thread().name))


async def _get(app: PooledASGIHandler, url: str) -> tuple[int, bytes]:
    return await get(app, url, [(b"host", b"testserver")])


@pytest.fixture
def app(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[PooledASGIHandler]:
    from django.db import connections

    # As the server's SQLite settings have it (the suite's close every connection).
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", None)
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]
    SEEN.clear()
    signals.request_started.connect(_started)
    signals.request_finished.connect(_finished)
    handler = PooledASGIHandler(2)
    yield handler
    signals.request_started.disconnect(_started)
    signals.request_finished.disconnect(_finished)
    handler.threads.shutdown()


def test_requests_run_whole_on_the_long_lived_threads_and_keep_their_connection(
    app: PooledASGIHandler,
) -> None:
    executor = app.threads.executors[0]
    submit, hops = executor.submit, []

    def counted(*args: Any, **kwargs: Any) -> Any:
        hops.append(1)
        return submit(*args, **kwargs)

    executor.submit = counted  # type: ignore[method-assign]

    async def main() -> list[tuple[int, bytes]]:
        return [await _get(app, "/plain/") for _ in range(6)]

    assert asyncio.run(main()) == [(200, b"plain")] * 6
    assert len(hops) == 6  # one call into the thread a request
    threads = {name for what, name in SEEN if what in ("started", "view", "finished")}
    assert threads and threads <= {"request-0_0", "request-1_0"}
    # One after another: each request on the least busy thread, the first, every time;
    # its signals and its view on that thread too (one hop from the loop, not three).
    assert [what for what, _ in SEEN if what != "connection"] == [
        "started", "view", "finished"
    ] * 6  # fmt: skip
    assert threads == {"request-0_0"}
    # On SQLite the thread keeps its connection from one request to the next.
    from django.db import connection

    if connection.vendor == "sqlite":
        assert len({c for what, c in SEEN if what == "connection"}) == 1


def test_requests_at_once_spread_over_the_threads(app: PooledASGIHandler) -> None:
    async def main() -> list[tuple[int, bytes]]:
        return list(await asyncio.gather(*(_get(app, "/plain/") for _ in range(8))))

    assert asyncio.run(main()) == [(200, b"plain")] * 8
    assert {name for what, name in SEEN if what == "view"} == {"request-0_0", "request-1_0"}
    assert app.threads.busy == [0, 0]


def test_a_streamed_response_is_sent_whole_and_closed_after_it(app: PooledASGIHandler) -> None:
    assert asyncio.run(_get(app, "/streamed/")) == (200, b"one,two")
    whats = [what for what, _ in SEEN]
    assert whats.index("streaming") < whats.index("finished")
    assert whats.count("finished") == 1


def test_a_request_the_urls_refuse_is_answered_and_closed(app: PooledASGIHandler) -> None:
    status, _ = asyncio.run(_get(app, "/nowhere/"))
    assert status == 404
    assert [what for what, _ in SEEN] == ["started", "finished"]
