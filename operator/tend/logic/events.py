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
        good = (cond.status == ConditionStatus.TRUE) != (cond.type in _BAD_WHEN_TRUE)
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
    }.get((cond.type, ConditionStatus(cond.status)), f"{cond.type}={cond.status}")
    return f"{state}: {cond.message}" if cond.message else state
