"""The operator on a thread of its own, for sharing a process with other asyncio code.

`tend demo` and the integration tests run the simulated cluster and the operator in one
process. kopf cancels, when it stops, every task created after it started; on its own
thread and event loop it only ever sees its own tasks, as in a real deployment.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tend.runtime.controller import Controller
from tend.runtime.handlers import RunOptions, run

T = TypeVar("T")


class EmbeddedOperator:
    """Start, stop, kill and inspect one operator running on a background thread."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.controller: Controller | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._started: concurrent.futures.Future[Controller] = concurrent.futures.Future()
        self.error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def start(self, timeout: float = 20.0) -> Controller:
        """Start the operator and wait until kopf is ready; returns its controller."""
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._started = concurrent.futures.Future()
        self.error = None
        self._thread = threading.Thread(target=self._main, name="tend-operator", daemon=True)
        self._thread.start()
        self.controller = await asyncio.wait_for(asyncio.wrap_future(self._started), timeout)
        if not await asyncio.to_thread(self._ready.wait, timeout):
            raise TimeoutError("the operator did not become ready")
        return self.controller

    def _main(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await run(
                self.options,
                stop_flag=self._stop,
                ready_flag=self._ready,
                on_controller=self._started.set_result,
            )

        try:
            asyncio.run(main())
        except BaseException as exc:  # the thread's end; keep it for the caller
            self.error = exc
            if not self._started.done():
                self._started.set_exception(exc)

    async def wait_stopped(self) -> None:
        """Until the operator's thread ends (Ctrl-C, or an error)."""
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    async def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop, as on SIGTERM."""
        if self._thread is None:
            return
        self._stop.set()
        await asyncio.to_thread(self._thread.join, timeout)
        self._thread = None

    async def kill(self, timeout: float = 30.0) -> None:
        """Abrupt stop: cancel everything the operator is doing, wherever it is."""
        if self._thread is None or self.loop is None:
            return
        loop = self.loop

        def cancel_all() -> None:
            for task in asyncio.all_tasks(loop):
                task.cancel()

        with contextlib.suppress(RuntimeError):  # the loop may be closing already
            loop.call_soon_threadsafe(cancel_all)
        # kopf waits for a threading.Event stop flag in an executor thread, which no
        # cancellation reaches; set it too, or that thread keeps the process from exiting.
        self._stop.set()
        await asyncio.to_thread(self._thread.join, timeout)
        self._thread = None

    async def call(self, fn: Callable[[Controller], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run `fn(controller)` on the operator's loop and wait for its result."""
        assert self.loop is not None and self.controller is not None
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(fn(self.controller)), self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    async def idle(self, timeout: float = 30.0) -> None:
        """Until the operator has nothing queued, scheduled or in progress."""
        await self.call(lambda c: c.queue.wait_idle(), timeout)


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable
