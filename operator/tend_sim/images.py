"""Images as scripts: what a simulated container does, decided by its image name.

The grammar (DESIGN.md, "The simulated kubelet's images"):

    anything else              starts, Ready 1s later, runs until stopped; in a pod that
                               runs to completion (a Job's), exits 0 after 2s instead
    sim/ready:<dur>            Ready after <dur>
    sim/crash:<dur>-<code>     every run exits <code> after <dur>; CrashLoopBackOff between runs
    sim/crash:<dur>-<code>-<k> the first <k> runs crash, later runs stay up and Ready
    sim/oom:<dur>              terminated OOMKilled, exit 137, after <dur>
    sim/unready:<dur>          runs, readiness fails from <dur> on
    sim/hang:<dur>             liveness (and readiness) fail from <dur> on
    sim/complete:<dur>-<code>  runs to completion after <dur> with <code>
    sim/nopull:<anything>      image pull fails: ErrImagePull, then ImagePullBackOff

What each prints (its log; `kubectl logs`): `starting`, then `ready: serving requests` when
it is ready, plus a line per HTTP/TCP/gRPC probe request it answers (not while hung; exec probes
run beside the application and print nothing to its log); `sim/crash` ends with
`fatal: sim/crash exits with code <code>`, `sim/complete` with `done` or
`error: sim/complete exits with code <code>`, `sim/oom` with `allocating memory without bound`;
`sim/unready` and `sim/hang` log a warning when they turn bad.

A malformed `sim/...` image is reported like an unparsable image reference: waiting
reason `InvalidImageName` and a Warning `InspectFailed` Event naming the grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tend.api.units import parse_duration

SIM_PREFIX = "sim/"
DEFAULT_READY_DELAY = 1.0  # "starts, Ready 1s later"
START_LINE = "starting"
READY_LINE = "ready: serving requests"
UNREADY_LINE = "warning: a dependency is unavailable, reporting not ready"
HANG_LINE = "warning: worker pool exhausted, requests are queueing"


class ScriptError(ValueError):
    """A `sim/...` image that does not follow the grammar."""


class Behaviour(StrEnum):
    DEFAULT = "default"
    READY = "ready"
    CRASH = "crash"
    OOM = "oom"
    UNREADY = "unready"
    HANG = "hang"
    COMPLETE = "complete"
    NOPULL = "nopull"


GRAMMAR = (
    "sim/ready:<dur>, sim/crash:<dur>-<code>[-<k>], sim/oom:<dur>, sim/unready:<dur>, "
    "sim/hang:<dur>, sim/complete:<dur>-<code>, sim/nopull:<anything> "
    "(<dur> like 500ms, 2s, 1m; <code> 0-255)"
)


@dataclass(frozen=True)
class RunPlan:
    """What one run of a container does, in seconds after it started (None = never)."""

    ready_at: float | None = DEFAULT_READY_DELAY
    exit_at: float | None = None
    exit_code: int = 0
    exit_reason: str = "Completed"
    unready_at: float | None = None
    hang_at: float | None = None
    # What the application prints, (seconds after start, line); probe requests are logged
    # by the kubelet simulation as they happen (see logs.py).
    lines: tuple[tuple[float, str], ...] = ((0.0, START_LINE), (DEFAULT_READY_DELAY, READY_LINE))

    def ready(self, elapsed: float) -> bool:
        """Would the application answer a readiness check now?"""
        if self.ready_at is None or elapsed < self.ready_at:
            return False
        if self.unready_at is not None and elapsed >= self.unready_at:
            return False
        return self.alive(elapsed)

    def alive(self, elapsed: float) -> bool:
        """Would the application answer a liveness check now?"""
        return self.hang_at is None or elapsed < self.hang_at

    def started(self, elapsed: float) -> bool:
        """Would the application answer a startup check now?"""
        return self.ready_at is not None and elapsed >= self.ready_at and self.alive(elapsed)

    def change_points(self) -> list[float]:
        """The elapsed times at which an answer to some probe may change."""
        points = (self.ready_at, self.unready_at, self.hang_at)
        return sorted(p for p in points if p is not None)


@dataclass(frozen=True)
class Script:
    """The parsed behaviour of an image."""

    behaviour: Behaviour = Behaviour.DEFAULT
    after: float = 0.0
    exit_code: int = 0
    crash_runs: int | None = None

    @property
    def pull_fails(self) -> bool:
        return self.behaviour is Behaviour.NOPULL

    def plan(self, run_index: int) -> RunPlan:
        """The plan of run number `run_index` (0 for the first run)."""
        after = self.after
        match self.behaviour:
            case Behaviour.READY:
                return RunPlan(ready_at=after, lines=_lines(after, None, ""))
            case Behaviour.CRASH:
                if self.crash_runs is not None and run_index >= self.crash_runs:
                    return RunPlan()
                last = f"fatal: sim/crash exits with code {self.exit_code}"
                return RunPlan(
                    exit_at=after,
                    exit_code=self.exit_code,
                    exit_reason=_exit_reason(self.exit_code),
                    lines=_lines(DEFAULT_READY_DELAY, after, last),
                )
            case Behaviour.COMPLETE:
                last = (
                    f"error: sim/complete exits with code {self.exit_code}"
                    if self.exit_code
                    else "done"
                )
                return RunPlan(
                    exit_at=after,
                    exit_code=self.exit_code,
                    exit_reason=_exit_reason(self.exit_code),
                    lines=_lines(DEFAULT_READY_DELAY, after, last),
                )
            case Behaviour.OOM:
                return RunPlan(
                    exit_at=after,
                    exit_code=137,
                    exit_reason="OOMKilled",
                    lines=_lines(DEFAULT_READY_DELAY, after, "allocating memory without bound"),
                )
            case Behaviour.UNREADY:
                lines = (*_lines(DEFAULT_READY_DELAY, None, ""), (after, UNREADY_LINE))
                return RunPlan(unready_at=after, lines=tuple(sorted(lines)))
            case Behaviour.HANG:
                lines = (*_lines(DEFAULT_READY_DELAY, None, ""), (after, HANG_LINE))
                return RunPlan(hang_at=after, lines=tuple(sorted(lines)))
            case _:
                return RunPlan()


def _lines(ready_at: float, exit_at: float | None, last: str) -> tuple[tuple[float, str], ...]:
    """A start line, a ready line (unless it exits first) and a last line when it exits."""
    lines: list[tuple[float, str]] = [(0.0, START_LINE)]
    if exit_at is None or ready_at < exit_at:
        lines.append((ready_at, READY_LINE))
    if exit_at is not None:
        lines.append((exit_at, last))
    return tuple(lines)


def _exit_reason(code: int) -> str:
    return "Completed" if code == 0 else "Error"


_DUR = r"(?P<dur>(?:[0-9]+(?:\.[0-9]+)?(?:ms|h|m|s))+)"
_CODE = r"(?P<code>[0-9]{1,3})"
_PATTERNS: dict[Behaviour, re.Pattern[str]] = {
    Behaviour.READY: re.compile(rf"^{_DUR}$"),
    Behaviour.OOM: re.compile(rf"^{_DUR}$"),
    Behaviour.UNREADY: re.compile(rf"^{_DUR}$"),
    Behaviour.HANG: re.compile(rf"^{_DUR}$"),
    Behaviour.COMPLETE: re.compile(rf"^{_DUR}-{_CODE}$"),
    Behaviour.CRASH: re.compile(rf"^{_DUR}-{_CODE}(?:-(?P<k>[0-9]+))?$"),
}


def parse_image(image: str) -> Script:
    """Parse an image into its script; images outside `sim/` get the default behaviour."""
    if not image.startswith(SIM_PREFIX):
        return Script()
    name, sep, tag = image[len(SIM_PREFIX) :].partition(":")
    try:
        behaviour = Behaviour(name)
    except ValueError:
        raise ScriptError(f"unknown simulated image {image!r}: expected one of {GRAMMAR}") from None
    if behaviour is Behaviour.NOPULL:
        return Script(behaviour)
    pattern = _PATTERNS.get(behaviour)
    match = pattern.match(tag) if pattern is not None and sep else None
    if match is None:
        raise ScriptError(f"invalid simulated image {image!r}: expected {GRAMMAR}")
    after = parse_duration(match["dur"])
    groups = match.groupdict()
    code = int(groups["code"]) if groups.get("code") is not None else 0
    if code > 255:
        raise ScriptError(
            f"invalid simulated image {image!r}: exit code {code} is not in 0-255; "
            f"expected {GRAMMAR}"
        )
    crash_runs = int(groups["k"]) if groups.get("k") is not None else None
    return Script(behaviour, after=after, exit_code=code, crash_runs=crash_runs)
