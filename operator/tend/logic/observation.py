"""What one reconcile saw and did: the input of the report step."""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tend.api import BlockedBy, Reason
from tend.logic.graph import MANAGED_SERVICE
from tend.logic.incidents import Ladder
from tend.logic.plan import Action
from tend.logic.pods import PodView
from tend.logic.readiness import readiness
from tend.logic.restarts import RestartSettings
from tend.logic.workload import WorkloadState


@dataclass(frozen=True)
class Observation:
    """The spec's verdict, the dependencies, the live workload, and the writes made."""

    generation: int
    runs_to_completion: bool
    problems: Sequence[str] = ()  # InvalidSpec lines, "field: message"
    conflict: str | None = None  # an object we would write is owned by someone else
    blocked_by: Sequence[BlockedBy] = ()  # unsatisfied dependencies
    workload: WorkloadState | None = None
    root_cause: str | None = None  # namespace/name of the dependency whose failure blocks us
    actions: Sequence[Action] = ()  # the writes this reconcile made
    pods: Sequence[PodView] = ()  # the service's pods, as the informer holds them
    restart_settings: RestartSettings | None = None  # None: the spec could not be read
    reset: str = ""  # the value of tend.dev/reset-budget
    last_ready_generation: int | None = None  # whose template a Rollback restores
    # Incidents (None: the spec could not be read, so no ladder applies).
    ladder: Ladder | None = None
    namespace: str = "default"
    name: str = ""
    uid: str = ""
    delivered: Collection[str] = ()  # outbox ids the operator has delivered since
    dependents: Sequence[str] = ()  # namespace/name of the services that wait on this one


class Awaiting(enum.Enum):
    """Whose first word a verdict awaits."""

    WORKLOAD = "workload"  # its controller has not observed the workload tend just wrote
    DEPENDENCY = "dependency"  # a dependency has not been reconciled at its generation
    APPLIED_TOGETHER = "applied-together"  # a new service's dependency is not here yet: it
    # may be on its way (`kubectl apply -f dir/` creates one object after another, and their
    # watch events are not handled in that order)


def awaiting_first_word(
    seen: Observation,
    lookup_service: Callable[[str, str], Mapping[str, Any] | None],
    *,
    first_verdict: bool = False,
) -> Awaiting | None:
    """Whose first word the verdict `seen` leads to awaits, which would rewrite it a moment
    later: the workload was just written and its controller has not observed it yet, or
    nothing runs yet and a dependency exists that has not been reconciled at its generation,
    or (the service's `first_verdict`) does not exist yet. Problems with the spec, and
    cycles, are news at once."""
    if seen.problems or seen.conflict:
        return None
    if any(b.reason == Reason.DEPENDENCY_CYCLE for b in seen.blocked_by):
        return None
    if seen.workload is not None:
        return None if seen.workload.observed else Awaiting.WORKLOAD
    for blocker in seen.blocked_by:
        if blocker.kind == MANAGED_SERVICE:
            dependency = readiness(lookup_service(blocker.namespace, blocker.name))
            if dependency.exists and not dependency.current:
                return Awaiting.DEPENDENCY
    if first_verdict and any(b.reason == Reason.DEPENDENCY_NOT_FOUND for b in seen.blocked_by):
        return Awaiting.APPLIED_TOGETHER
    return None
