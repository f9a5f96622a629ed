"""A keyed work queue with de-duplication, delayed adds and per-key back-off.

The semantics are client-go's workqueue: a key is queued at most once; a key being
processed is never handed to a second worker, and if it is added meanwhile it is
processed again afterwards; failures are retried with exponential back-off.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)


class QueueObserver(Protocol):
    """What client-go's workqueue metrics provider is told (see tend.runtime.metrics)."""

    def added(self) -> None: ...
    def retried(self) -> None: ...
    def waited(self, seconds: float) -> None: ...
    def worked(self, seconds: float) -> None: ...


class WorkQueue(Generic[K]):
    def __init__(
        self,
        *,
        base_delay: float = 0.05,
        max_delay: float = 60.0,
        observer: QueueObserver | None = None,
    ) -> None:
        self._observer = observer
        self._added_at: dict[K, float] = {}  # queued key -> when (monotonic)
        self._started_at: dict[K, float] = {}  # processing key -> since when
        self._queue: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: dict[K, bool] = {}  # added while processing -> urgent
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.base_delay = base_delay
        self.max_delay = max_delay

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: K, *, urgent: bool = False) -> None:
        """Queue `key` now (once, however often it is added); `urgent` goes first."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._processing:
            if key not in self._dirty and self._observer is not None:
                self._observer.added()  # counted once, like client-go's dirty set
            self._added_at.setdefault(key, time.monotonic())
            self._dirty[key] = self._dirty.get(key, False) or urgent
            return
        if key in self._queued:
            if urgent:
                self._queue.remove(key)  # O(n), rare: move an already queued key forward
                self._queue.appendleft(key)
            return
        if self._observer is not None:
            self._observer.added()
        self._push(key, urgent)

    def _push(self, key: K, urgent: bool) -> None:
        self._queued.add(key)
        self._added_at.setdefault(key, time.monotonic())
        if urgent:
            self._queue.appendleft(key)
        else:
            self._queue.append(key)
        self._idle.clear()
        self._ready.set()

    def add_after(self, key: K, delay: float) -> None:
        """Queue `key` after `delay` seconds; an earlier add wins, a later one is dropped."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        when = loop.time() + delay
        if existing is not None:
            if existing.when() <= when:
                return
            existing.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)
        self._idle.clear()

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def retry(self, key: K) -> float:
        """Queue `key` again after its back-off; returns the delay used."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if self._observer is not None:
            self._observer.retried()
        delay = float(min(self.base_delay * (2**failures), self.max_delay))
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset the back-off of `key` after a success."""
        self._failures.pop(key, None)

    async def get(self) -> K:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._queued.discard(key)
        self._processing.add(key)
        now = time.monotonic()
        added = self._added_at.pop(key, now)
        self._started_at[key] = now
        if self._observer is not None:
            self._observer.waited(now - added)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if self._observer is not None and started is not None:
            self._observer.worked(time.monotonic() - started)
        urgent = self._dirty.pop(key, None)
        if urgent is not None:
            self._push(key, urgent)  # added (and counted) while it was processing
        elif not self._queue and not self._processing and not self._timers:
            self._idle.set()

    def running_since(self) -> list[float]:
        """When each key being processed now was taken (monotonic), for metrics."""
        return list(self._started_at.values())

    async def wait_idle(self) -> None:
        """Until nothing is queued, processing or scheduled."""
        await self._idle.wait()

    async def run_worker(self, process: Callable[[K], Awaitable[None]]) -> None:
        """Process keys forever; `process` handles its own retries via `retry`."""
        while True:
            key = await self.get()
            try:
                await process(key)
            finally:
                self.done(key)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
