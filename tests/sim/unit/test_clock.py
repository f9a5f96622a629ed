"""SimClock scales time by its speed; ManualClock moves only when told to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tend_sim import clock as clock_module
from tend_sim.clock import ManualClock, SimClock, format_go_duration, rfc3339


async def test_sim_clock_sleep_takes_sim_seconds_divided_by_speed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(clock_module.asyncio, "sleep", fake_sleep)
    clock = SimClock(speed=50)
    await clock.sleep(10)
    await clock.sleep(-1)
    assert slept == [pytest.approx(0.2), 0.0]


def test_sim_clock_monotonic_runs_speed_times_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    real = [100.0]
    monkeypatch.setattr(clock_module.time, "monotonic", lambda: real[0])
    clock = SimClock(speed=20)
    start_wall = clock.now()
    real[0] += 1.5
    assert clock.monotonic() == pytest.approx(30.0)
    assert clock.now() - start_wall == timedelta(seconds=30)
    assert clock.to_datetime(60.0) - start_wall == timedelta(seconds=60)


def test_sim_clock_rejects_a_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        SimClock(speed=0)


async def test_manual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = ManualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 20), ("a", 5), ("c", 60))]
    await asyncio.sleep(0)
    assert clock.sleepers == 3
    await clock.advance(30)
    assert woke == [("a", 5.0), ("b", 20.0)]
    assert clock.monotonic() == 30
    await clock.advance(30)
    assert woke[-1] == ("c", 60.0)
    await asyncio.gather(*tasks)


def test_manual_clock_wall_time_follows_monotonic() -> None:
    start = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    assert rfc3339(clock.to_datetime(90.4)) == "2030-05-01T12:01:30Z"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (10, "10s"),
        (40, "40s"),
        (80, "1m20s"),
        (160, "2m40s"),
        (300, "5m0s"),
        (3600, "1h0m0s"),
        (1.5, "1.5s"),
    ],
)
def test_go_duration_format_matches_time_duration_string(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text
