"""A daemon thread that runs calls in order and hands each result back to the event loop.

    worker = Worker("generate")
    samples = await worker.call(generate, bundle, "this dress is", words=12)   # from a coroutine

The server's CPU work (scoring, generating) runs on such threads, never on the event loop, so
health checks and other requests are answered while it runs. Daemon threads: a call still
running when the server has shut down does not hold the process open.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable


class Worker:
    def __init__(self, name: str):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable, *args, **kwargs):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._calls.put((loop, future, fn, args, kwargs))
        return await future

    def close(self) -> None:
        self._calls.put(None)

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            loop, future, fn, args, kwargs = item
            if future.cancelled():  # the client went away while it waited
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # handed to the request, which maps it to an HTTP error
                settle_later(loop, future, None, e)
            else:
                settle_later(loop, future, result, None)


def settle_later(loop: asyncio.AbstractEventLoop, future: asyncio.Future, result, error: BaseException | None) -> None:
    """Complete `future` on its own loop's thread (futures are not thread-safe)."""
    try:
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:  # the loop has closed (shutdown): nobody waits for this answer
        pass


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.done():  # cancelled: the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
