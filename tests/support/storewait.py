"""Waiting on the simulated cluster's store without sleeping: wake on every write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from tend_sim.store import Store


async def until_written(
    store: Store, resources: Iterable[Any], check: Callable[[], Any], deadline: float
) -> Any:
    """Wait until `check()` is truthy, re-checking after every write to `resources`
    (ResourceTypes); fail with TimeoutError after `deadline` seconds."""
    watches = [store.watch_from_now(rt) for rt in resources]
    wake = asyncio.Event()

    async def pump(watch: Any) -> None:
        async for _ in watch:
            wake.set()

    pumps = [asyncio.create_task(pump(w)) for w in watches]
    try:
        async with asyncio.timeout(deadline):
            while not (result := check()):
                await wake.wait()
                wake.clear()
            return result
    finally:
        for watch in watches:
            watch.close()
        for task in pumps:
            task.cancel()
