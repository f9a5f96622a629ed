"""The garbage-collection policy: survivors of a full collection are frozen, then thawed."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tend.runtime import heap


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    yield
    heap.thaw()


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_survivors_of_a_full_collection_are_frozen() -> None:
    heap.freeze_survivors()
    assert gc.get_freeze_count() > 0  # what existed at the start
    kept = Cycle()
    gc.collect()
    assert heap.frozen_collections() == 1
    assert not in_generation_2(kept)  # frozen: the next full collection does not walk it
    heap.thaw()
    assert in_generation_2(kept)


def in_generation_2(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects(generation=2))


def test_young_cyclic_garbage_is_still_collected() -> None:
    heap.freeze_survivors()
    for _ in range(100):
        Cycle()
    assert gc.collect() >= 100


def test_after_the_refresh_interval_a_full_collection_walks_everything_again() -> None:
    heap.freeze_survivors(refresh=0.0)
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.collect()  # the refresh is due: everything is put back where a collection sees it
    assert gc.get_freeze_count() == 0
    assert heap.frozen_collections() == 0


def test_cyclic_garbage_among_frozen_objects_is_reclaimed_by_the_refresh() -> None:
    heap.freeze_survivors(refresh=3600.0)
    doomed = [Cycle() for _ in range(50)]
    gc.collect()  # survivors frozen, the cycles among them
    del doomed
    assert gc.collect() < 50  # frozen: out of reach
    heap.freeze_survivors(refresh=0.0)  # the refresh falls due
    gc.collect()  # thaws
    assert gc.collect() >= 50


def test_thaw_restores_the_default_behaviour() -> None:
    heap.freeze_survivors()
    heap.thaw()
    assert gc.get_freeze_count() == 0
    assert heap.frozen_collections() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0
