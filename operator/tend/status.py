"""What a ManagedService's status says, as a pure function of what the operator observed.

`observe_workload` reads a live Deployment or Job the way `kubectl rollout status`
does; `compute_status` turns that, the dependency verdicts and the spec's problems
into phase and conditions; `transitions` lists the Events a status change deserves
(one per changed condition, never one per reconcile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tend.builders import DESIRED_HASH_ANNOTATION
from tend.models import (
    BlockedBy,
    Condition,
    ConditionType,
    ManagedServiceStatus,
    Phase,
    Reason,
    Status,
    Workload,
    WorkloadKind,
)

WARNING = "Warning"
NORMAL = "Normal"


@dataclass(frozen=True)
class WorkloadState:
    """A live Deployment or Job, as far as readiness goes."""

    kind: WorkloadKind
    name: str
    replicas: int = 0
    ready_replicas: int = 0
    current: bool = False  # the live template is the one tend wants now (desired-hash matches)
    rolled_out: bool = False  # the controller finished rolling out the live template
    succeeded: bool = False  # Job: Complete
    failed: bool = False  # Job: Failed; Deployment: ProgressDeadlineExceeded
    message: str = ""

    @property
    def ready(self) -> bool:
        return self.current and self.rolled_out and not self.failed

    def summary(self) -> Workload:
        return Workload(
            kind=self.kind,
            name=self.name,
            replicas=self.replicas,
            ready_replicas=self.ready_replicas,
        )


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), None)


def observe_workload(live: Mapping[str, Any], desired_hash: str | None) -> WorkloadState:
    """Read a Deployment or Job like `kubectl rollout status` does."""
    metadata = live.get("metadata") or {}
    spec = live.get("spec") or {}
    status = live.get("status") or {}
    annotations = metadata.get("annotations") or {}
    current = desired_hash is not None and annotations.get(DESIRED_HASH_ANNOTATION) == desired_hash
    name = metadata.get("name", "")
    observed = status.get("observedGeneration", 0) >= metadata.get("generation", 0)
    if live.get("kind") == "Job":
        complete = _condition(live, "Complete")
        failed = _condition(live, "Failed")
        succeeded = bool(complete and complete.get("status") == "True")
        is_failed = bool(failed and failed.get("status") == "True")
        completions = spec.get("completions") or 1
        return WorkloadState(
            kind=WorkloadKind.JOB,
            name=name,
            replicas=completions,
            ready_replicas=status.get("succeeded", 0),
            current=current,
            rolled_out=succeeded,
            succeeded=succeeded,
            failed=is_failed,
            message=(failed or {}).get("message", "") if is_failed else "",
        )
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    progressing = _condition(live, "Progressing")
    deadline = bool(progressing and progressing.get("reason") == "ProgressDeadlineExceeded")
    rolled_out = observed and updated >= wanted and total <= updated and available >= updated
    if not observed:
        message = "waiting for the Deployment controller to observe the new spec"
    elif updated < wanted:
        message = f"{updated} of {wanted} replicas updated"
    elif total > updated:
        message = f"{total - updated} old replicas pending termination"
    elif available < updated:
        message = f"{available} of {updated} updated replicas available"
    else:
        message = f"{available} of {wanted} replicas ready"
    return WorkloadState(
        kind=WorkloadKind.DEPLOYMENT,
        name=name,
        replicas=wanted,
        ready_replicas=status.get("readyReplicas", 0),
        current=current,
        rolled_out=rolled_out,
        failed=deadline,
        message=(progressing or {}).get("message", message) if deadline else message,
    )


@dataclass(frozen=True)
class Observation:
    """Everything `compute_status` needs: the spec's verdict, dependencies, the workload."""

    generation: int
    runs_to_completion: bool
    problems: Sequence[str] = ()  # InvalidSpec lines, "field: message"
    conflict: str | None = None  # an object we would write is owned by someone else
    blocked_by: Sequence[BlockedBy] = ()  # unsatisfied dependencies
    workload: WorkloadState | None = None
    suppressed_by: str | None = None  # root cause, when a failing dependency degrades us


def _blocked_reason(blocked: Sequence[BlockedBy]) -> str:
    reasons = {b.reason for b in blocked}
    for reason in (Reason.DEPENDENCY_CYCLE, Reason.DEPENDENCY_NOT_FOUND):
        if reason in reasons:
            return reason.value
    return Reason.DEPENDENCY_NOT_READY.value


def describe_blockers(blocked: Sequence[BlockedBy]) -> str:
    """`waiting for shop/postgres (Ready=False: CrashLoop); shop/x not found`."""
    parts = []
    for b in blocked:
        target = (
            f"{b.namespace}/{b.name}" if b.kind != "Service" else f"Service {b.namespace}/{b.name}"
        )
        if b.reason == Reason.DEPENDENCY_NOT_FOUND:
            parts.append(f"{target} not found")
        elif b.reason == Reason.DEPENDENCY_CYCLE:
            parts.append(f"dependency cycle {b.message}" if b.message else f"cycle via {target}")
        else:
            detail = f" ({b.message})" if b.message else ""
            parts.append(f"waiting for {target}{detail}")
    return "; ".join(parts)


def _cond(type_: ConditionType, ok: bool, reason: str, message: str) -> Condition:
    return Condition(
        type=type_.value,
        status=Status.TRUE if ok else Status.FALSE,
        reason=reason,
        message=message,
    )


Verdict = tuple[bool, str, str]  # (status, reason, message) of one condition


def compute_status(obs: Observation) -> tuple[Phase, list[Condition]]:
    """Phase and the five conditions (without timestamps) for one observation."""
    wl = obs.workload
    blocked = list(obs.blocked_by)
    ok: Verdict = (False, Reason.RECONCILED.value, "")  # "not degraded"
    deps_message = "all dependencies are ready" if not blocked else describe_blockers(blocked)
    deps_reason = _blocked_reason(blocked) if blocked else Reason.RECONCILED.value

    def status(
        phase: Phase, ready: Verdict, progressing: Verdict, degraded: Verdict = ok
    ) -> tuple[Phase, list[Condition]]:
        conditions = [
            _cond(ConditionType.READY, *ready),
            _cond(ConditionType.DEPENDENCIES_READY, not blocked, deps_reason, deps_message),
            _cond(ConditionType.PROGRESSING, *progressing),
            _cond(ConditionType.DEGRADED, *degraded),
            _cond(ConditionType.RESTART_BUDGET_EXHAUSTED, *ok),
        ]
        return phase, conditions

    rolling = Reason.ROLLOUT_IN_PROGRESS.value
    if obs.problems or obs.conflict:
        message = obs.conflict or "; ".join(obs.problems)
        invalid = Reason.INVALID_SPEC.value
        if wl is None:
            return status(Phase.FAILED, (False, invalid, message), (False, invalid, message))
        degraded = (True, invalid, message)
        return status(
            Phase.DEGRADED, (False, invalid, message), (False, invalid, message), degraded
        )
    if wl is None:
        if blocked:
            waiting = (False, deps_reason, deps_message)
            return status(
                Phase.BLOCKED, waiting, (False, deps_reason, "not started: " + deps_message)
            )
        message = f"creating the {'Job' if obs.runs_to_completion else 'Deployment'}"
        return status(Phase.PENDING, (False, rolling, message), (True, rolling, message))
    if wl.kind == WorkloadKind.JOB:
        return status(*_job_verdicts(wl))
    if blocked and not wl.current:
        # A new generation waits for its dependencies; the old one keeps running.
        message = f"rollout of generation {obs.generation} waits: {deps_message}"
        return status(Phase.BLOCKED, (False, deps_reason, message), (False, deps_reason, message))
    if wl.failed:
        failed = (False, rolling, wl.message)
        return status(Phase.DEGRADED, failed, failed, (True, rolling, wl.message))
    if not wl.ready:
        return status(Phase.PROGRESSING, (False, rolling, wl.message), (True, rolling, wl.message))
    done = (False, Reason.RECONCILED.value, wl.message)
    if blocked:
        # Running, but something it needs has failed since: stay up, report the root cause.
        waiting = (False, deps_reason, deps_message)
        return status(Phase.DEGRADED, waiting, done, (True, deps_reason, deps_message))
    return status(Phase.RUNNING, (True, Reason.RECONCILED.value, wl.message), done)


def _job_verdicts(wl: WorkloadState) -> tuple[Phase, Verdict, Verdict, Verdict]:
    """Phase, Ready, Progressing and Degraded of a Job-backed service."""
    if wl.succeeded:
        message = f"completed: {wl.ready_replicas} of {wl.replicas} succeeded"
        done = (False, Reason.RECONCILED.value, message)
        return (
            Phase.SUCCEEDED,
            (True, Reason.RECONCILED.value, message),
            done,
            (False, Reason.RECONCILED.value, ""),
        )
    if wl.failed:
        failed = (False, Reason.EXIT_CODE.value, wl.message or "the Job failed")
        return Phase.FAILED, failed, failed, (True, Reason.EXIT_CODE.value, failed[2])
    message = f"running: {wl.ready_replicas} of {wl.replicas} succeeded"
    rolling = Reason.ROLLOUT_IN_PROGRESS.value
    return (
        Phase.PROGRESSING,
        (False, rolling, message),
        (True, rolling, message),
        (False, Reason.RECONCILED.value, ""),
    )


def merge_conditions(
    old: Sequence[Condition] | None,
    new: Sequence[Condition],
    *,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """Stamp observedGeneration; keep lastTransitionTime unless the status flipped."""
    previous = {c.type: c for c in old or []}
    merged = []
    for cond in new:
        before = previous.get(cond.type)
        since = (
            before.last_transition_time
            if before is not None and before.status == cond.status and before.last_transition_time
            else now
        )
        merged.append(
            cond.model_copy(
                update={"last_transition_time": since, "observed_generation": generation}
            )
        )
    return merged


@dataclass(frozen=True)
class Event:
    """An Event to post on the ManagedService."""

    type: str  # Normal or Warning
    reason: str
    message: str


_BAD_WHEN_TRUE = {ConditionType.DEGRADED.value, ConditionType.RESTART_BUDGET_EXHAUSTED.value}


def transitions(
    old: ManagedServiceStatus | None,
    conditions: Sequence[Condition],
    *,
    already: Set[str] = frozenset(),
) -> list[Event]:
    """The Events a status change deserves: one per condition whose status or reason changed.

    Reasons are shared by several conditions (Ready and DependenciesReady both say
    DependencyNotReady); one Event per distinct reason is enough, and Ready, listed
    first, gives it its message. Reasons in `already` were posted by the caller.
    """
    before = {c.type: c for c in (old.conditions if old and old.conditions else [])}
    events: list[Event] = []
    seen: set[str] = set(already)
    for cond in conditions:
        prev = before.get(cond.type)
        if prev is not None and (prev.status, prev.reason) == (cond.status, cond.reason):
            continue
        good = (cond.status == Status.TRUE) != (cond.type in _BAD_WHEN_TRUE)
        if (
            cond.type == ConditionType.PROGRESSING.value
            or cond.reason == Reason.ROLLOUT_IN_PROGRESS
        ):
            good = True  # rolling out is news, not trouble
        elif prev is None and good and cond.type != ConditionType.READY.value:
            continue  # a condition that starts out fine is no news; Ready always is
        if cond.reason in seen:
            continue
        seen.add(cond.reason)
        events.append(Event(NORMAL if good else WARNING, cond.reason, _event_message(cond)))
    return events


def _event_message(cond: Condition) -> str:
    state = {
        (ConditionType.READY.value, Status.TRUE): "Ready",
        (ConditionType.READY.value, Status.FALSE): "not Ready",
        (ConditionType.PROGRESSING.value, Status.TRUE): "rolling out",
        (ConditionType.PROGRESSING.value, Status.FALSE): "rollout finished",
        (ConditionType.DEGRADED.value, Status.TRUE): "Degraded",
        (ConditionType.DEGRADED.value, Status.FALSE): "no longer Degraded",
        (ConditionType.DEPENDENCIES_READY.value, Status.TRUE): "dependencies ready",
        (ConditionType.DEPENDENCIES_READY.value, Status.FALSE): "dependencies not ready",
        (ConditionType.RESTART_BUDGET_EXHAUSTED.value, Status.TRUE): "restart budget exhausted",
        (ConditionType.RESTART_BUDGET_EXHAUSTED.value, Status.FALSE): "restart budget restored",
    }.get((cond.type, Status(cond.status)), f"{cond.type}={cond.status}")
    return f"{state}: {cond.message}" if cond.message else state
