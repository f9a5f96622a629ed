"""The watch cache's event history and etcd's compaction, the two windows that decide when a
resourceVersion or a continue token is too old.

`History` is kube-apiserver's `watchCacheHistory`
(`staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache_history.go`): a buffer of at least
100 events per resource that doubles, up to an upper bound, while its oldest event is younger
than the fresh duration (75 s: the bookmark frequency plus 15 s), and halves when its newest
quarter is older than that. A watch from before the oldest retained event fails with
`too old resource version: RV (OLDEST-1)`. Events are only dropped when a new one arrives.

`Compaction` plays kube-apiserver's compactor, which compacts etcd every 5 minutes
(`--etcd-compaction-interval`): a revision older than the interval is gone, so continue tokens
and `resourceVersionMatch=Exact` lists from before it answer 410 Expired.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from tend_sim import errors

if TYPE_CHECKING:
    from tend_sim.watch import WatchEvent

FRESH_SECONDS = 75.0
LOWER_BOUND = 100
UPPER_BOUND = 100 * 1024
COMPACTION_SECONDS = 300.0


class History:
    """The retained events of one resource, oldest first."""

    __slots__ = ("capacity", "events", "fresh", "lower", "removed", "times", "upper")

    def __init__(
        self, fresh: float = FRESH_SECONDS, lower: int = LOWER_BOUND, upper: int = UPPER_BOUND
    ) -> None:
        self.fresh = fresh
        self.lower = max(1, min(lower, upper))
        self.upper = max(1, upper)
        self.capacity = self.lower
        self.events: deque[WatchEvent] = deque()
        self.times: deque[float] = deque()
        self.removed = False

    def add(self, ev: WatchEvent, now: float) -> None:
        """updateCache: resize, drop the oldest event when full, append."""
        if len(self.events) >= self.capacity:
            self._resize(now)
            if len(self.events) >= self.capacity:
                self.events.popleft()
                self.times.popleft()
                self.removed = True
        self.events.append(ev)
        self.times.append(now)

    def _resize(self, now: float) -> None:
        """resizeCacheLocked, called when the buffer is full."""
        if now - self.times[0] < self.fresh:
            self.capacity = min(self.capacity * 2, self.upper)
            return
        if now - self.times[len(self.events) - self.capacity // 4] > self.fresh:
            capacity = max(self.capacity // 2, self.lower)
            while len(self.events) > capacity:
                self.events.popleft()
                self.times.popleft()
                self.removed = True
            self.capacity = capacity

    def oldest_rv(self) -> int | None:
        """The resourceVersion below which watches are refused (None: all are served)."""
        if not self.removed or not self.events:
            return None
        return self.events[0].rv - 1

    def since(self, rv: int) -> list[WatchEvent]:
        """GetIntervalLocked: the events after `rv`, or 410 Expired when they are gone."""
        oldest = self.oldest_rv()
        if oldest is not None and rv < oldest:
            raise errors.expired(f"too old resource version: {rv} ({oldest})")
        out: list[WatchEvent] = []
        for ev in reversed(self.events):
            if ev.rv <= rv:
                break
            out.append(ev)
        out.reverse()
        return out


class Compaction:
    """The etcd revision compacted away, from (second, highest rv) samples of the writes."""

    __slots__ = ("compacted", "interval", "samples")

    def __init__(self, interval: float = COMPACTION_SECONDS) -> None:
        self.interval = interval
        self.compacted = 0
        self.samples: deque[list[float]] = deque()

    def wrote(self, rv: int, now: float) -> None:
        last = self.samples[-1] if self.samples else None
        if last is not None and now - last[0] < 1.0:
            last[1] = rv
        else:
            self.samples.append([now, rv])
            self.revision(now)  # once a second: keep only the samples still in the window

    def revision(self, now: float) -> int:
        """Revisions below this one are compacted."""
        cutoff = now - self.interval
        samples = self.samples
        while samples and samples[0][0] <= cutoff:
            self.compacted = int(samples.popleft()[1])
        return self.compacted
