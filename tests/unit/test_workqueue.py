"""The work queue: one entry per key, no key processed twice at once, back-off on failure."""

from __future__ import annotations

import asyncio

import pytest

from tend.runtime.workqueue import WorkQueue


async def test_a_key_is_queued_once_however_often_it_is_added() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_a_key_added_while_processing_is_processed_again_afterwards() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")  # arrives mid-processing: must not go to a second worker
    assert len(queue) == 0
    queue.done(key)
    assert len(queue) == 1


async def test_an_urgent_add_while_processing_stays_urgent_afterwards() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("b")
    queue.add("a", urgent=True)  # a dependency became ready while "a" was being reconciled
    queue.done(key)
    assert [await queue.get(), await queue.get()] == ["a", "b"]


@pytest.mark.looptime
async def test_retry_backs_off_exponentially_and_forget_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=1.0, max_delay=8.0)
    delays = [queue.retry("a") for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    queue.forget("a")
    assert queue.retry("a") == 1.0


@pytest.mark.looptime
async def test_add_after_fires_once_at_the_earliest_time() -> None:
    queue: WorkQueue[str] = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    queue.add_after("a", 10)
    queue.add_after("a", 3)
    queue.add_after("a", 20)
    assert await queue.get() == "a"
    assert loop.time() - start == pytest.approx(3)
    queue.done("a")
    await asyncio.wait_for(queue.wait_idle(), timeout=1)


async def test_workers_never_process_one_key_concurrently() -> None:
    queue: WorkQueue[int] = WorkQueue()
    active: set[int] = set()
    overlaps = 0
    processed: list[int] = []
    gate = asyncio.Event()

    async def process(key: int) -> None:
        nonlocal overlaps
        if key in active:
            overlaps += 1
        active.add(key)
        await gate.wait()
        processed.append(key)
        active.discard(key)

    workers = [asyncio.create_task(queue.run_worker(process)) for _ in range(4)]
    for key in [1, 1, 2, 1, 2, 3]:
        queue.add(key)
    await asyncio.sleep(0)  # let workers pick up keys
    for key in [1, 2]:
        queue.add(key)  # re-added while being processed
    gate.set()
    await asyncio.wait_for(queue.wait_idle(), timeout=5)
    for worker in workers:
        worker.cancel()
    assert overlaps == 0
    assert sorted(processed) == [1, 1, 2, 2, 3]


async def test_urgent_keys_jump_the_queue() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "c"):
        queue.add(key)
    queue.add("d", urgent=True)
    queue.add("c", urgent=True)  # already queued: moves forward, still once
    assert [await queue.get() for _ in range(4)] == ["c", "d", "a", "b"]
