"""The watch cache's history (watchCacheHistory) and etcd compaction, on a fake clock."""

from __future__ import annotations

import pytest

from tend_sim.errors import ApiError
from tend_sim.watch import WatchEvent
from tend_sim.watch_cache import Compaction, History


def _event(rv: int) -> WatchEvent:
    return WatchEvent("ADDED", None, None, rv)  # type: ignore[arg-type]


def test_a_full_buffer_of_fresh_events_grows_instead_of_dropping() -> None:
    history = History(fresh=75, lower=4, upper=16)
    for rv in range(1, 11):
        history.add(_event(rv), now=float(rv))
    assert history.capacity == 16
    assert [e.rv for e in history.since(0)] == list(range(1, 11))
    assert history.oldest_rv() is None


def test_events_older_than_the_window_are_dropped_and_watching_from_them_is_410() -> None:
    history = History(fresh=75, lower=4, upper=16)
    for rv in range(1, 5):
        history.add(_event(rv), now=0.0)
    history.add(_event(5), now=100.0)  # full at its floor, the oldest stale: dropped
    assert [e.rv for e in history.since(0 + 1)] == [2, 3, 4, 5]
    with pytest.raises(ApiError) as gone:
        history.since(0)
    assert gone.value.code == 410
    assert gone.value.reason == "Expired"
    assert gone.value.message == "too old resource version: 0 (1)"
    assert [e.rv for e in history.since(3)] == [4, 5]


def test_the_buffer_shrinks_back_when_its_newest_quarter_is_stale() -> None:
    history = History(fresh=75, lower=4, upper=16)
    for rv in range(1, 17):
        history.add(_event(rv), now=0.0)
    assert history.capacity == 16
    history.add(_event(17), now=500.0)
    assert history.capacity == 8
    assert [e.rv for e in history.since(10)] == [11, 12, 13, 14, 15, 16, 17]
    with pytest.raises(ApiError):
        history.since(5)


def test_compaction_forgets_revisions_older_than_the_interval() -> None:
    compaction = Compaction(interval=300)
    compaction.wrote(5, now=0.0)
    compaction.wrote(9, now=10.0)
    assert compaction.revision(now=200.0) == 0
    assert compaction.revision(now=305.0) == 5
    compaction.wrote(12, now=400.0)
    assert compaction.revision(now=650.0) == 9
    assert len(compaction.samples) == 1  # what is compacted is forgotten
