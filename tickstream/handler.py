"""Django's ASGI handler with a fixed set of request threads and one thread hop a request.

Django's own handler gives each request a new single-thread executor
(`ThreadSensitiveContext`), started for it and joined after it; Django's connections are
per thread, so each request also opened a database connection and closed it. And it
crosses between the event loop and that thread three times or more: `request_started`,
the middleware (adapted around a sync-only one) with the view inside it, and
`response.close`. Each crossing back waits for the event loop to turn, so a busy market
stretched every request by as many turns of the loop.

Here a request runs on one of `HTTP_THREADS` long-lived threads, the one with the fewest
requests in flight (a request's sync calls stay on one thread, as Django requires), so
threads and connections are made once; and its whole sync work is one call (`respond`).
Measured in process (`bench/request_path.py`: the demo user's paper account read on
SQLite, median / p99 ms): Django's handler 4.05 / 7.08 with the loop idle, 9.06 / 18.62
and 12.33 / 30.83 with it busy half the time in 2 and 5 ms slices; this one 1.87 / 2.98,
4.14 / 7.08 and 8.34 / 15.49.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.urls import set_script_prefix

from tickstream.stream.publish import Sends, deferred, send_published


class RequestThreads:
    """`size` single-thread executors; `take` the least busy, `give` it back."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("at least one request thread")
        self.executors = [
            ThreadPoolExecutor(1, thread_name_prefix=f"request-{n}") for n in range(size)
        ]
        self.busy = [0] * size

    def take(self) -> int:
        n = min(range(len(self.busy)), key=self.busy.__getitem__)
        self.busy[n] += 1
        return n

    def give(self, n: int) -> None:
        self.busy[n] -= 1

    def shutdown(self) -> None:
        for executor in self.executors:
            executor.shutdown(wait=False)


class PooledASGIHandler(ASGIHandler):
    """Django's handler, a request's sync work on one of a fixed set of threads, in one
    call: the middleware and the view are sync, built as a WSGI server builds them."""

    def __init__(self, threads: int) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = RequestThreads(threads)

    def respond(self, request: HttpRequest) -> tuple[HttpResponseBase, Sends]:
        """The request's whole sync work, in one call on its thread: `request_started`,
        the middleware and the view, and a response whose content is whole is closed
        (`request_finished`) before it is sent; a streamed one after, as Django does.
        With what it published on commit, for the loop to send."""
        signals.request_started.send(sender=self.__class__, scope=request.scope)  # type: ignore[attr-defined]
        with deferred() as sends:
            response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):  # (the server chunks it)
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response, sends

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's `ASGIHandler.handle` (5.2) with the request's sync work in one thread
        hop (`respond`) instead of three: each hop waits for the event loop to turn, and
        under a busy market that wait was the larger part of a short request."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request(request: HttpRequest, send: Any) -> HttpResponseBase:
            response, sends = await sync_to_async(self.respond, thread_sensitive=True)(request)
            await send_published(sends)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client left while it was sent
            return response

        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if response.streaming:  # (a whole one was closed before it was sent)
                await sync_to_async(response.close)()
        body_file.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        n = self.threads.take()
        try:
            async with ThreadSensitiveContext(executor=self.threads.executors[n]):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give(n)


def get_pooled_asgi_application() -> PooledASGIHandler:
    """As `django.core.asgi.get_asgi_application`, with HTTP_THREADS request threads."""
    import django
    from django.conf import settings

    django.setup(set_prefix=False)
    return PooledASGIHandler(settings.HTTP_THREADS)
