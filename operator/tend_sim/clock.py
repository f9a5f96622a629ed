"""Simulated time for the simulated cluster.

`SimClock` runs on real time scaled by a speed factor: with `speed=50` one simulated
second passes in 20 real milliseconds. Everything in `tend_sim` that waits (image pulls,
probe periods, restart back-off, controller delays) waits in simulated seconds through
the clock, so a whole CrashLoopBackOff ladder fits in a test. It stays on the real
asyncio loop, so kopf running in the same process keeps its own (real) timing.

`ManualClock` is the fake for unit tests: time moves only when the test calls
`advance()`, and sleepers wake in deadline order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the kubelet and the controllers need from a clock."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def to_datetime(self, sim_seconds: float) -> datetime: ...

    async def sleep(self, sim_seconds: float) -> None: ...


class SimClock:
    """Real time scaled by `speed`; `monotonic()` counts simulated seconds since creation."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = float(speed)
        self._real_start = time.monotonic()
        self._wall_start = datetime.now(UTC)

    def monotonic(self) -> float:
        """Simulated seconds since the clock was created."""
        return (time.monotonic() - self._real_start) * self.speed

    def now(self) -> datetime:
        """Simulated wall-clock time (UTC, tz-aware); starts at the real time of creation."""
        return self.to_datetime(self.monotonic())

    def to_datetime(self, sim_seconds: float) -> datetime:
        """The wall-clock time at simulated instant `sim_seconds` (a `monotonic()` value)."""
        return self._wall_start + timedelta(seconds=sim_seconds)

    async def sleep(self, sim_seconds: float) -> None:
        """Sleep for `sim_seconds` simulated seconds (`sim_seconds / speed` real seconds)."""
        await asyncio.sleep(max(0.0, sim_seconds) / self.speed)

    def real_seconds(self, sim_seconds: float) -> float:
        """How long `sim_seconds` of simulated time takes in real time."""
        return sim_seconds / self.speed


class ManualClock:
    """A clock that moves only when told to; for tests that must not wait."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = 0.0
        self._wall_start = start or datetime(2025, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def now(self) -> datetime:
        return self.to_datetime(self._now)

    def to_datetime(self, sim_seconds: float) -> datetime:
        return self._wall_start + timedelta(seconds=sim_seconds)

    async def sleep(self, sim_seconds: float) -> None:
        if sim_seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + sim_seconds, next(self._seq), future))
        await future

    async def advance(self, sim_seconds: float) -> None:
        """Move time forward, waking each sleeper at its deadline, in deadline order."""
        target = self._now + sim_seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            for _ in range(5):  # let the woken task run up to its next await
                await asyncio.sleep(0)
        self._now = target
        await asyncio.sleep(0)

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending (cancelled ones included until their deadline)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())


def format_go_duration(seconds: float) -> str:
    """Format like Go's time.Duration.String(): `10s`, `1m20s`, `5m0s`, `500ms`, `1h0m0s`."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        millis = seconds * 1000
        return f"{millis:g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{sec_text}"
    if minutes:
        return f"{int(minutes)}m{sec_text}"
    return sec_text


def rfc3339(moment: datetime) -> str:
    """Serialise like metav1.Time: seconds precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(moment: datetime) -> str:
    """Serialise like metav1.MicroTime: microsecond precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
