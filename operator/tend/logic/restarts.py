"""Restarts, counted exactly once and classified, and the restart budget they spend.

The kubelet restarts containers; it does not judge them. This module gives the judgement
that PM2 (`max_restarts`, `min_uptime`), systemd (`StartLimitBurst` within
`StartLimitIntervalSec`) and docker restart policies give, from what the kubelet reports in
each pod's `containerStatuses`:

- **Counting, exactly once.** Each ended run of a container shows up as
  `lastState.terminated` (or `state.terminated`) with its own `finishedAt` and containerID.
  `status.restarts.counted` remembers, per pod uid and container, how many failures were
  counted and the newest run counted, so a reconcile after an operator restart, a relist or
  an out-of-order event counts nothing twice. The kubelet's `restartCount` is a lower bound
  (every restart follows an ended run): runs the operator never saw (it was down through
  several crashes) are added from it, timed now and classified like the newest run seen. A
  replacement pod has a new uid and starts from nothing; counts of pods that are gone are
  dropped, never subtracted.
- **Classifying** a run: `OOMKilled` (the runtime's reason), `ProbeFailed` (exit 137 or 143,
  the kubelet's SIGKILL or SIGTERM, in a container that has a liveness or startup probe: the
  kubelet kills only on a failing probe or on deletion, and deleting pods are skipped),
  `CrashLoop` (the run was shorter than `minUptime`), else `ExitCode`. States that are not
  restarts but keep the service from running are reported as the current problem:
  `ImagePullFailed`, `ConfigError` (CreateContainerConfigError), `Unschedulable`, and
  `CrashLoop` while the kubelet backs off.
- **The budget** (systemd semantics): more than `maxRestarts` restarts within the sliding
  `window` exhausts it, i.e. the (maxRestarts+1)-th. `consecutive` counts failures in a row
  (PM2 semantics): a run that lasted `minUptime` starts the count again, but the window
  still holds every restart.

Times are the kubelet's own (`finishedAt`), so a count does not depend on when the
operator happened to look.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tend.api import OnExhausted, Policy, Reason
from tend.api.config import OperatorConfig
from tend.api.resource import ManagedService
from tend.api.units import parse_duration
from tend.logic.pods import ContainerView, PodView, Termination, format_time, parse_time

RECENT_FAILURES = 10
KILLED_BY_KUBELET = (137, 143)  # SIGKILL, SIGTERM
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
CONFIG_FAILURES = ("CreateContainerConfigError", "CreateContainerError")


@dataclass(frozen=True)
class RestartSettings:
    """One service's budget, with the operator's defaults filled in."""

    max_restarts: int
    window: float  # seconds
    min_uptime: float  # seconds
    restarts_on_success: bool = True  # policy Always: a run that exits 0 is restarted too
    probe_kills: bool = False  # a liveness or startup probe may kill the container
    on_exhausted: str = OnExhausted.ALERT.value
    fallback: str = ""  # why the spec's onExhausted cannot be carried out, if it cannot


def settings_for(ms: ManagedService, config: OperatorConfig) -> RestartSettings:
    policy = ms.spec.restart_policy
    probes = ms.spec.probes
    budget = config.budget
    return RestartSettings(
        max_restarts=budget.max_restarts if policy.max_restarts is None else policy.max_restarts,
        window=parse_duration(policy.window or budget.window),
        min_uptime=parse_duration(policy.min_uptime or budget.min_uptime),
        restarts_on_success=policy.policy == Policy.ALWAYS,
        probe_kills=probes is not None and (probes.liveness or probes.startup) is not None,
        on_exhausted=str(policy.on_exhausted),
    )


RESET_ANNOTATION = "tend.dev/reset-budget"
STOPPED = (
    "stopped (scaled to zero) because the restart budget is exhausted; change the spec or set "
    "a new value of the annotation tend.dev/reset-budget to start it again"
)


def reset_token(ms: ManagedService) -> str:
    """The value of tend.dev/reset-budget: any new value resets the budget (it is compared,
    never parsed, so nothing written there can be wrong)."""
    return (ms.metadata.annotations or {}).get(RESET_ANNOTATION, "")


def reset_reason(hold: Mapping[str, Any], generation: int, token: str) -> str | None:
    """Why a holding action ends now, or None while it holds."""
    if int(hold.get("generation") or 0) != generation:
        return f"the spec changed (generation {generation})"
    if str(hold.get("reset") or "") != token:
        return f"{RESET_ANNOTATION} was set to {token!r}"
    return None


def holding(previous: Mapping[str, Any] | None, generation: int, token: str) -> str | None:
    """The action an exhausted budget holds the service in (ScaleToZero, Rollback), if it
    still holds: for the builders, before anything is written."""
    hold = (previous or {}).get("hold")
    if not hold or reset_reason(hold, generation, token) is not None:
        return None
    return str(hold.get("action") or "")


@dataclass(frozen=True)
class Failure:
    """One classified failure, as `status.recentFailures` lists it."""

    time: str
    pod: str
    container: str
    reason: str
    exit_code: int | None
    message: str
    after_long_run: bool = False  # the run lasted minUptime: a good start, then this failure

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": self.time,
            "pod": self.pod,
            "container": self.container,
            "reason": self.reason,
        }
        if self.exit_code is not None:
            out["exitCode"] = self.exit_code
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class Problem:
    """What keeps the service from running right now, for Ready's reason and message."""

    reason: str
    message: str


@dataclass(frozen=True)
class Accounting:
    """The outcome of counting one reconcile's view of the pods."""

    restarts: dict[str, Any]  # status.restarts as it is to be written (None: remove the key)
    recent_failures: list[dict[str, Any]]  # status.recentFailures, newest first
    new: list[Failure] = field(default_factory=list)  # counted now, oldest first
    problem: Problem | None = None
    exhausted: bool = False
    recheck_in: float | None = None  # seconds until time alone changes the verdict
    held: str | None = None  # ScaleToZero or Rollback, while the exhausted budget holds
    newly_held: bool = False  # it started holding in this reconcile
    reset: str | None = None  # why a hold ended in this reconcile


def format_seconds(value: float) -> str:
    """A duration as the spec writes them: `250ms`, `1s`, `2.5s`, `400s`, `10m`."""
    if value < 1:
        return f"{round(value * 1000)}ms"
    if value >= 120 and value % 60 == 0:
        return f"{int(value // 60)}m"
    return f"{value:g}s" if value == int(value) else f"{value:.1f}s"


def classify(run: Termination, settings: RestartSettings) -> tuple[str, str]:
    """(reason, message) of one ended run: `CrashLoop`, `exit 3 after 1s: <last log line>`."""
    ran = run.ran_for
    after = f" after {format_seconds(ran)}" if ran is not None else ""
    detail = f": {run.message}" if run.message else ""
    if run.reason == "OOMKilled":
        return Reason.OOM_KILLED.value, f"OOMKilled: exit {run.exit_code}{after}{detail}"
    if settings.probe_kills and run.exit_code in KILLED_BY_KUBELET and run.reason != "Completed":
        message = f"killed by a failing probe: exit {run.exit_code}{after}{detail}"
        return Reason.PROBE_FAILED.value, message
    if ran is not None and ran < settings.min_uptime:
        return Reason.CRASH_LOOP.value, f"exit {run.exit_code}{after}{detail}"
    return Reason.EXIT_CODE.value, f"exit {run.exit_code}{after}{detail}"


def _order(text: str | None) -> tuple[str, str]:
    finished, _, container_id = (text or "").partition(" ")
    return (finished, container_id)


def _runs(pod: PodView, container: ContainerView, settings: RestartSettings) -> list[Termination]:
    """The ended runs that are failures (or, for policy Always, restarts), oldest first."""
    runs = {container.last.order: container.last} if container.last else {}
    if container.terminated is not None and not pod.deleting:
        runs[container.terminated.order] = container.terminated  # stopping for deletion is not
    return [
        run for _, run in sorted(runs.items()) if run.exit_code != 0 or settings.restarts_on_success
    ]


def _ended_at_least(pod: PodView, container: ContainerView, settings: RestartSettings) -> int:
    """How many runs have certainly ended, from the kubelet's `restartCount`.

    `restartCount` is the index of the container's newest instance (the kubelet stores it
    on each container it creates, kuberuntime_container.go): every restart follows an
    ended run. While the newest instance itself has ended (`state.terminated`, or waiting
    in CrashLoopBackOff for its restart), one more has. Other waiting states are not
    counted: a new instance may already exist, and a count must never run ahead.
    """
    bound = container.restart_count
    stopped = container.terminated is not None and not pod.deleting  # deletion is no failure
    newest_ended = stopped or (
        container.waiting is not None
        and container.waiting[0] == "CrashLoopBackOff"
        and container.last is not None
    )
    if newest_ended:
        newest = container.terminated if stopped else container.last
        if newest is not None and (newest.exit_code != 0 or settings.restarts_on_success):
            bound += 1
    return bound


def _count(
    pods: Sequence[PodView],
    counted: Mapping[str, Mapping[str, Any]],
    settings: RestartSettings,
    now: str,
) -> tuple[list[Failure], dict[str, dict[str, Any]]]:
    new: list[Failure] = []
    marks: dict[str, dict[str, Any]] = {}
    for pod in pods:
        for container in pod.containers:
            key = f"{pod.uid}/{container.name}"
            mark = counted.get(key) or {}
            seen = int(mark.get("restarts") or 0)
            newest = _order(mark.get("last"))
            fresh = [run for run in _runs(pod, container, settings) if run.order > newest]
            missed = max(0, _ended_at_least(pod, container, settings) - seen - len(fresh))
            if missed:
                like = fresh[0] if fresh else container.last
                reason, message = classify(like, settings) if like else (Reason.EXIT_CODE.value, "")
                note = f"{missed} restart(s) while tend was not watching"
                message = f"{note}; the newest seen: {message}" if like else note
                new.extend(
                    Failure(now, pod.name, container.name, reason, None, message)
                    for _ in range(missed)
                )
            for run in fresh:
                reason, message = classify(run, settings)
                when = run.finished_at or now
                long_run = run.ran_for is not None and run.ran_for >= settings.min_uptime
                new.append(
                    Failure(
                        when, pod.name, container.name, reason, run.exit_code, message, long_run
                    )
                )
            if fresh:
                newest = fresh[-1].order
            if seen or missed or fresh:
                marks[key] = {"restarts": seen + missed + len(fresh), "last": " ".join(newest)}
    return new, marks


def problem_of(pods: Iterable[PodView], settings: RestartSettings) -> Problem | None:
    """The first thing that keeps a pod from running: not a restart, but a failure."""
    for pod in pods:
        if pod.deleting:
            continue
        if pod.unschedulable is not None:
            return Problem(Reason.UNSCHEDULABLE.value, f"pod {pod.name}: {pod.unschedulable}")
        for container in pod.containers:
            if container.waiting is None:
                continue
            waiting, message = container.waiting
            where = f"pod {pod.name}"
            if waiting in PULL_FAILURES:
                return Problem(Reason.IMAGE_PULL_FAILED.value, f"{where}: {waiting}: {message}")
            if waiting in CONFIG_FAILURES:
                return Problem(Reason.CONFIG_ERROR.value, f"{where}: {waiting}: {message}")
            if waiting == "CrashLoopBackOff" and container.last is not None:
                reason, detail = classify(container.last, settings)
                return Problem(reason, f"{where}: {detail}")
    return None


def _consecutive(previous: int, new: Sequence[Failure]) -> int:
    count = previous
    for failure in new:
        count = 1 if failure.after_long_run else count + 1
    return count


def _healthy_for(pods: Sequence[PodView], now: datetime) -> float | None:
    """Seconds every container of every pod has been running, if all are running."""
    ages = []
    for pod in pods:
        if pod.deleting:
            continue
        for container in pod.containers:
            started = parse_time(container.running_since)
            if started is None:
                return None
            ages.append((now - started).total_seconds())
    return min(ages) if ages else None


def account(
    previous: Mapping[str, Any] | None,
    previous_failures: Sequence[Mapping[str, Any]] | None,
    pods: Sequence[PodView],
    settings: RestartSettings,
    now: datetime,
    *,
    generation: int = 0,
    reset: str = "",
) -> Accounting:
    """Count what is new in `pods` since `previous` (the status.restarts written last).

    `generation` and `reset` (the spec's generation, the tend.dev/reset-budget value) end a
    hold: the window and the consecutive count start again, and the action is lifted.
    """
    previous = previous or {}
    stamp = format_time(now)
    counted = {str(m.get("container")): m for m in previous.get("counted") or []}
    new, marks = _count(pods, counted, settings, stamp)
    cutoff = now - timedelta(seconds=settings.window)
    hold = previous.get("hold")
    lifted = reset_reason(hold, generation, reset) if hold else None
    reset_at = stamp if lifted else previous.get("resetAt")
    forgotten = parse_time(reset_at)  # a reset forgets what came before
    times = [f.time for f in reversed(new)] + list(previous.get("recent") or [])
    stamped = [(t, parse_time(t) or now) for t in times]
    kept = [(t, when) for t, when in stamped if forgotten is None or when > forgotten]
    valid = [when for _, when in kept]
    recent = [t for t, when in kept if when > cutoff][: settings.max_restarts + 1]
    consecutive = _consecutive(0 if lifted else int(previous.get("consecutive") or 0), new)
    healthy = _healthy_for(pods, now)
    recheck: list[float] = []
    if healthy is not None:
        if healthy >= settings.min_uptime:
            consecutive = 0  # a run that lasts minUptime is a good start (PM2)
        else:
            recheck.append(settings.min_uptime - healthy)
    if recent:
        oldest = parse_time(recent[-1]) or now
        recheck.append((oldest + timedelta(seconds=settings.window) - now).total_seconds())
    # Like systemd's start limit, each restart is judged when it happens: by the restarts in
    # the window that ends at it (a short window may have passed again by the time tend looks).
    span = timedelta(seconds=settings.window)
    over = len(recent) > settings.max_restarts or any(
        sum(1 for other in valid if at - span < other <= at) > settings.max_restarts
        for at in (parse_time(f.time) or now for f in new)
    )
    if lifted:
        hold = None
    newly_held = hold is None and over and settings.on_exhausted != OnExhausted.ALERT
    if newly_held:
        hold = {
            "action": settings.on_exhausted,
            "since": stamp,
            "generation": generation,
            "reset": reset,
        }
    exhausted = over or hold is not None
    last = new[-1] if new else None
    by_reason = {str(r): int(n) for r, n in (previous.get("byReason") or {}).items()}
    for failure in new:
        by_reason[failure.reason] = by_reason.get(failure.reason, 0) + 1
    restarts: dict[str, Any] = {
        "total": int(previous.get("total") or 0) + len(new),
        "byReason": by_reason or None,
        "inWindow": len(recent),
        "budgetRemaining": max(0, settings.max_restarts - len(recent)),
        "consecutive": consecutive,
        "lastReason": last.reason if last else previous.get("lastReason"),
        "lastExitCode": last.exit_code if last else previous.get("lastExitCode"),
        "lastTime": last.time if last else previous.get("lastTime"),
        "recent": recent or None,
        "counted": [{"container": key, **mark} for key, mark in sorted(marks.items())] or None,
        "hold": hold,
        "resetAt": reset_at,
    }  # None removes a key: status is merge-patched
    failures = [f.to_api() for f in reversed(new)] + [dict(f) for f in previous_failures or []]
    return Accounting(
        restarts=restarts,
        recent_failures=failures[:RECENT_FAILURES],
        new=new,
        problem=problem_of(pods, settings),
        exhausted=exhausted,
        # A new hold changes what is built: reconcile again at once to carry it out.
        recheck_in=0.0 if newly_held else (max(0.0, min(recheck)) if recheck else None),
        held=str(hold["action"]) if hold else None,
        newly_held=newly_held,
        reset=lifted,
    )
