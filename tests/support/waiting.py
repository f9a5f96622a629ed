"""The one way tests wait: re-check a condition whenever the simulated cluster changes.

Everything a test can wait for on the simulated cluster is the result of a write to its
store (an object created, updated or deleted, by the API server, the controllers, the
kubelet or the garbage collector) or of a watch being opened on it. `until` re-checks after
each of those and at no other time: no polling interval, no sleeping. The cluster runs in
the test's own event loop (the operator, on its thread, reaches it over HTTP), so the store
calls its listeners on this loop.

It hooks the store's listeners rather than opening watches of its own, which would show up
in `Store.watch_count()` and in the watch listeners that some tests wait on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from tend_sim.cluster import SimCluster
from tend_sim.store import Store

T = TypeVar("T")
_SHOWN = 2000  # characters of the last value an error message shows


async def until(
    cluster: SimCluster | Store,
    check: Callable[[], T | Awaitable[T]],
    what: str,
    *,
    satisfied: Callable[[T], object] = bool,
    deadline: float = 15.0,
    logs: bool = False,
) -> T:
    """Return `check()`'s value once `satisfied` by it (truthy, by default), re-checking after
    every write to `cluster`'s store and every watch opened on it. `check` may be sync or
    async (e.g. `lambda: kube.get(...)`).

    Fails with an AssertionError naming `what` and the last value `check` returned when
    `deadline` (real seconds) passes first. With `logs`, every log record also triggers a
    re-check, for conditions only the logs show (kopf's peering decisions); the hook sits on
    the root logger after pytest's capture handler, so a check reading `caplog` sees the record.
    """
    store = cluster.store if isinstance(cluster, SimCluster) else cluster
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def wake(*_: Any) -> None:
        # Thread-safe (log records come from the operator's thread) and one loop turn late,
        # so whatever the writer scheduled with call_soon (the garbage collector) runs first.
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(changed.set)

    handler = _WakeOnRecord(wake)
    store.write_listeners.append(wake)
    store.watch_listeners.append(wake)
    if logs:
        logging.getLogger().addHandler(handler)
    seen: list[T] = []
    scope = asyncio.timeout(deadline)
    try:
        async with scope:
            while True:
                changed.clear()  # before checking: a change during an async check counts
                result = check()
                value = cast(T, await result if inspect.isawaitable(result) else result)
                seen[:] = [value]
                if satisfied(value):
                    return value
                await changed.wait()
    except TimeoutError:
        if not scope.expired():
            raise  # the check's own time-out, not ours
        last = repr(seen[0]) if seen else "nothing (the first check did not finish)"
        if len(last) > _SHOWN:
            last = last[:_SHOWN] + " ..."
        raise AssertionError(f"waited {deadline}s for {what}; last seen: {last}") from None
    finally:
        store.write_listeners.remove(wake)
        store.watch_listeners.remove(wake)
        if logs:
            logging.getLogger().removeHandler(handler)


class _WakeOnRecord(logging.Handler):
    def __init__(self, wake: Callable[[], None]) -> None:
        super().__init__()
        self._wake = wake

    def emit(self, record: logging.LogRecord) -> None:
        self._wake()
