"""Phase and conditions of a ManagedService, as a pure function of what one reconcile saw.

`compute_status` turns the spec's problems, the dependency verdicts and the workload into
phase and the conditions (without timestamps); `merge_conditions` stamps them, keeping
lastTransitionTime unless a status flipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tend.api import (
    BlockedBy,
    Condition,
    ConditionStatus,
    ConditionType,
    OnExhausted,
    Phase,
    Reason,
    WorkloadKind,
)
from tend.logic.dependencies import missing
from tend.logic.observation import Observation
from tend.logic.restarts import Problem
from tend.logic.workload import WorkloadState


def _blocked_reason(blocked: Sequence[BlockedBy]) -> str:
    """A cycle first, then a dependency that does not exist; else one that is not ready (a
    dependency that is itself blocked by a missing one exists: it is not ready)."""
    if any(b.reason == Reason.DEPENDENCY_CYCLE for b in blocked):
        return Reason.DEPENDENCY_CYCLE.value
    if any(missing(b) for b in blocked):
        return Reason.DEPENDENCY_NOT_FOUND.value
    return Reason.DEPENDENCY_NOT_READY.value


def describe_blockers(blocked: Sequence[BlockedBy]) -> str:
    """`waiting for shop/postgres (Ready=False: CrashLoop); shop/x not found`."""
    parts = []
    for b in blocked:
        target = (
            f"{b.namespace}/{b.name}" if b.kind != "Service" else f"Service {b.namespace}/{b.name}"
        )
        if missing(b):
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
        status=ConditionStatus.TRUE if ok else ConditionStatus.FALSE,
        reason=reason,
        message=message,
    )


ConditionValue = tuple[bool, str, str]  # (status, reason, message) of one condition


def compute_status(
    obs: Observation,
    failing: Problem | None = None,
    exhausted: str | None = None,
    *,
    held: str | None = None,
    held_message: str | None = None,
    reset: str | None = None,
) -> tuple[Phase, list[Condition]]:
    """Phase and the seven conditions (without timestamps) for one observation.

    `failing` is what keeps the pods from running (a crash loop, a pull or config error, an
    unschedulable pod); `exhausted` the message of an exhausted restart budget, `held` the
    action it holds the service in (ScaleToZero), `reset` why a hold ended just now.
    """
    phase, conditions = _verdicts(
        obs, failing, exhausted, held=held, held_message=held_message, reset=reset
    )
    return phase, [*conditions, *kstatus(obs, phase, conditions, exhausted)]


PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


def kstatus(
    obs: Observation, phase: Phase, conditions: Sequence[Condition], exhausted: str | None
) -> list[Condition]:
    """Reconciling and Stalled, kstatus's vocabulary (sigs.k8s.io/cli-utils/pkg/kstatus, the
    conditions Flux's reconcilers set): Stalled when the service cannot get to its spec
    without a change — a spec tend or the API server refuses, an object someone else owns, a
    dependency cycle, an exhausted restart budget (and the hold it put the service in), a
    failed Job, a Deployment past its progress deadline; else Reconciling while it is not
    there yet (Pending, Blocked — a missing dependency may yet be created —, Progressing,
    Degraded and retrying). Both False when it runs as its spec says."""
    ready, *_ = conditions
    wl = obs.workload
    stalled: tuple[str, str] | None = None
    if (
        obs.problems
        or obs.conflict
        or phase == Phase.FAILED
        or ready.reason in (Reason.ROLLED_BACK, Reason.DEPENDENCY_CYCLE)
    ):
        stalled = (ready.reason, ready.message)
    elif exhausted:
        stalled = (Reason.RESTART_BUDGET_EXHAUSTED.value, exhausted)
    elif wl is not None and wl.failed and wl.kind == WorkloadKind.DEPLOYMENT:
        stalled = (PROGRESS_DEADLINE_EXCEEDED, wl.message)  # the Deployment's own reason
    done = (False, Reason.RECONCILED.value, "")
    converging = (True, ready.reason, ready.message)
    reconciling = done if stalled or phase in (Phase.RUNNING, Phase.SUCCEEDED) else converging
    return [
        _cond(ConditionType.RECONCILING, *reconciling),
        _cond(ConditionType.STALLED, *((True, *stalled) if stalled else done)),
    ]


def _verdicts(
    obs: Observation,
    failing: Problem | None,
    exhausted: str | None,
    *,
    held: str | None,
    held_message: str | None,
    reset: str | None,
) -> tuple[Phase, list[Condition]]:
    """Phase, Ready, DependenciesReady, Progressing, Degraded, RestartBudgetExhausted."""
    wl = obs.workload
    blocked = list(obs.blocked_by)
    ok: ConditionValue = (False, Reason.RECONCILED.value, "")  # "not degraded"
    deps_message = "all dependencies are ready" if not blocked else describe_blockers(blocked)
    deps_reason = _blocked_reason(blocked) if blocked else Reason.RECONCILED.value

    def status(
        phase: Phase,
        ready: ConditionValue,
        progressing: ConditionValue,
        degraded: ConditionValue = ok,
    ) -> tuple[Phase, list[Condition]]:
        conditions = [
            _cond(ConditionType.READY, *ready),
            _cond(ConditionType.DEPENDENCIES_READY, not blocked, deps_reason, deps_message),
            _cond(ConditionType.PROGRESSING, *progressing),
            _cond(ConditionType.DEGRADED, *degraded),
            _cond(ConditionType.RESTART_BUDGET_EXHAUSTED, *budget),
        ]
        return phase, conditions

    budget: ConditionValue = (
        (True, Reason.RESTART_BUDGET_EXHAUSTED.value, exhausted)
        if exhausted
        else (False, Reason.RECONCILED.value, f"restart budget reset: {reset}")
        if reset
        else ok
    )

    rolling = Reason.ROLLOUT_IN_PROGRESS.value
    if obs.problems or obs.conflict:
        # A spec the operator refuses, or an object in the way that someone else owns: what
        # runs keeps running (Degraded); with nothing running, the service has Failed.
        message = "; ".join(obs.problems) or obs.conflict or ""
        reason = (Reason.INVALID_SPEC if obs.problems else Reason.OWNERSHIP_CONFLICT).value
        if wl is None:
            return status(Phase.FAILED, (False, reason, message), (False, reason, message))
        degraded = (True, reason, message)
        return status(Phase.DEGRADED, (False, reason, message), (False, reason, message), degraded)
    if held == OnExhausted.SCALE_TO_ZERO:
        stopped = (False, Reason.SCALED_TO_ZERO.value, held_message or "")
        return status(Phase.FAILED, stopped, stopped, (True, *stopped[1:]))
    if held == OnExhausted.ROLLBACK and wl is not None:
        # The last Ready template runs, not the spec's generation: never Ready at it.
        back = (False, Reason.ROLLED_BACK.value, held_message or "")
        moving = (
            (False, Reason.RECONCILED.value, wl.message)
            if wl.ready
            else (True, rolling, wl.message)
        )
        return status(Phase.DEGRADED, back, moving, (True, *back[1:]))
    if wl is None:
        if blocked:
            waiting = (False, deps_reason, deps_message)
            return status(
                Phase.BLOCKED, waiting, (False, deps_reason, "not started: " + deps_message)
            )
        message = f"creating the {'Job' if obs.runs_to_completion else 'Deployment'}"
        return status(Phase.PENDING, (False, rolling, message), (True, rolling, message))
    finished = wl.ready or wl.succeeded or (wl.kind == WorkloadKind.JOB and wl.failed)
    if failing is not None and not finished:
        # The pods do not run: say why (CrashLoop: exit 3 after 1s: ...), not "rolling out".
        why = (False, failing.reason, failing.message)
        still = (True, rolling, wl.message)
        return status(Phase.DEGRADED, why, still, (True, failing.reason, failing.message))
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


def _job_verdicts(
    wl: WorkloadState,
) -> tuple[Phase, ConditionValue, ConditionValue, ConditionValue]:
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
