"""What one reconcile saw and did: the input of the report step."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from tend.api import BlockedBy
from tend.logic.incidents import Ladder
from tend.logic.plan import Action
from tend.logic.pods import PodView
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
