"""The Events a status change deserves: one per changed condition, never one per reconcile."""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

from tend.api import (
    Condition,
    ConditionStatus,
    ConditionType,
    ManagedServiceStatus,
    Reason,
)

WARNING = "Warning"
NORMAL = "Normal"


@dataclass(frozen=True)
class Event:
    """An Event to post on the ManagedService."""

    type: str  # Normal or Warning
    reason: str
    message: str
    # A transition of the persisted status (not a repeatable occurrence like a restart): the
    # operator names it after the status it changes (and this, to tell apart several of one
    # reason), so posting it again — after a failed status write, after kill -9 — is a no-op.
    once: str | None = None


_BAD_WHEN_TRUE = {
    ConditionType.DEGRADED.value,
    ConditionType.RESTART_BUDGET_EXHAUSTED.value,
    ConditionType.STALLED.value,
}
# Conditions whose changes are told by Ready's own Event (its message says why): waiting for
# dependencies, rolling out, converging. An Event each would double the news and the writes.
_TOLD_BY_READY = {
    ConditionType.DEPENDENCIES_READY.value,
    ConditionType.PROGRESSING.value,
    ConditionType.RECONCILING.value,
}


def transitions(
    old: ManagedServiceStatus | None,
    conditions: Sequence[Condition],
    *,
    already: Set[str] = frozenset(),
) -> list[Event]:
    """The Events a status change deserves.

    Ready: each time its status flips (a condition's transition, the moment its
    lastTransitionTime records), and each new reason it gives for not being Ready, except:
    RolloutInProgress, which every rollout starts with a write of tend's own whose Event
    tells it (`create Deployment api`; how it ends, Ready or a failure, is told when it
    comes); and a new service's first wait for a dependency that exists, which is the
    start-up order working (status and `kubectl get` show it; a missing dependency or a
    cycle is a Warning). Degraded, RestartBudgetExhausted and Stalled: each change of status
    or reason, once they are not fine. So a service in a start-up order tells what tend wrote
    and that it is Ready; a failure tells its reason.

    Reasons are shared by several conditions; one Event per distinct reason is enough, and
    Ready, listed first, gives it its message. Reasons in `already` were posted by the caller.
    """
    before = {c.type: c for c in (old.conditions if old and old.conditions else [])}
    events: list[Event] = []
    seen: set[str] = set(already)
    for cond in conditions:
        prev = before.get(cond.type)
        if cond.type in _TOLD_BY_READY or cond.reason in seen:
            continue
        if prev is not None and (prev.status, prev.reason) == (cond.status, cond.reason):
            continue
        rolling = cond.reason == Reason.ROLLOUT_IN_PROGRESS
        good = rolling or (cond.status == ConditionStatus.TRUE) != (cond.type in _BAD_WHEN_TRUE)
        if cond.type == ConditionType.READY.value:
            if rolling:
                continue  # the writes' Event tells it (`replace Deployment api`)
            if prev is None and cond.reason == Reason.DEPENDENCY_NOT_READY:
                continue  # a new service waits its turn: the start-up order working
        elif prev is None and good:
            continue  # a condition that starts out fine is no news; Ready always is
        seen.add(cond.reason)
        kind = NORMAL if good else WARNING
        events.append(Event(kind, cond.reason, _event_message(cond), once=""))
    return events


def _event_message(cond: Condition) -> str:
    state = {
        (ConditionType.READY.value, ConditionStatus.TRUE): "Ready",
        (ConditionType.READY.value, ConditionStatus.FALSE): "not Ready",
        (ConditionType.PROGRESSING.value, ConditionStatus.TRUE): "rolling out",
        (ConditionType.PROGRESSING.value, ConditionStatus.FALSE): "rollout finished",
        (ConditionType.DEGRADED.value, ConditionStatus.TRUE): "Degraded",
        (ConditionType.DEGRADED.value, ConditionStatus.FALSE): "no longer Degraded",
        (ConditionType.DEPENDENCIES_READY.value, ConditionStatus.TRUE): "dependencies ready",
        (ConditionType.DEPENDENCIES_READY.value, ConditionStatus.FALSE): "dependencies not ready",
        (
            ConditionType.RESTART_BUDGET_EXHAUSTED.value,
            ConditionStatus.TRUE,
        ): "restart budget exhausted",
        (
            ConditionType.RESTART_BUDGET_EXHAUSTED.value,
            ConditionStatus.FALSE,
        ): "restart budget restored",
        (ConditionType.STALLED.value, ConditionStatus.TRUE): "Stalled",
        (ConditionType.STALLED.value, ConditionStatus.FALSE): "no longer Stalled",
    }.get((cond.type, ConditionStatus(cond.status)), f"{cond.type}={cond.status}")
    return f"{state}: {cond.message}" if cond.message else state
