"""`status` of a ManagedService: what the operator observed, at observedGeneration."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import (
    ConfigDict,
    Field,
)

from tend.api.base import (
    Model,
)
from tend.api.reasons import ConditionStatus, Phase
from tend.api.spec import Severity

__all__ = [
    "AlertState",
    "AlertStatus",
    "BlockedBy",
    "Condition",
    "CountedRuns",
    "Failure",
    "Hold",
    "ManagedServiceStatus",
    "Notification",
    "Restarts",
    "Workload",
    "WorkloadKind",
]


class Condition(Model):
    """A metav1.Condition."""

    type: str = Field(description="Ready, DependenciesReady, Progressing, Degraded, ...")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason, shared with Events and metrics.")
    message: str = Field("", description="Human-readable detail.")
    last_transition_time: datetime | None = Field(None, description="When status last changed.")
    observed_generation: int | None = Field(None, description="Generation this was computed at.")


class BlockedBy(Model):
    """A dependency that is not satisfied, and why."""

    kind: str = Field(description="ManagedService or Service.")
    namespace: str = Field(description="Namespace of the dependency.")
    name: str = Field(description="Name of the dependency.")
    reason: str = Field(description="Why it blocks, e.g. DependencyNotFound or CrashLoop.")
    message: str | None = Field(None, description="Detail, e.g. the cycle path.")


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    JOB = "Job"


class Workload(Model):
    """The Deployment or Job that runs the service."""

    kind: WorkloadKind = Field(description="Deployment or Job.")
    name: str = Field(description="Name of the workload.")
    replicas: int = Field(0, description="Desired pods.")
    ready_replicas: int = Field(0, description="Ready pods (Job: succeeded pods).")


class CountedRuns(Model):
    """How far one container's runs are counted, so that each restart counts once."""

    container: str = Field(description="pod uid/container name.")
    restarts: int = Field(0, ge=0, description="Failures counted for this container.")
    last: str = Field("", description="finishedAt and containerID of the newest run counted.")


class Hold(Model):
    """An exhausted budget whose action (ScaleToZero, Rollback) holds until it is reset: by
    a new generation of the spec, or a new value of the annotation tend.dev/reset-budget."""

    action: str = Field(description="ScaleToZero or Rollback.")
    since: datetime = Field(description="When the budget was exhausted.")
    generation: int = Field(description="The spec's generation then.")
    reset: str = Field("", description="The value of tend.dev/reset-budget then.")


class Restarts(Model):
    """Restart accounting against the budget."""

    total: int = Field(0, ge=0, description="Restarts counted since creation.")
    by_reason: dict[str, int] | None = Field(
        None, description="Restarts counted since creation, by reason (CrashLoop, OOMKilled...)."
    )
    in_window: int = Field(0, ge=0, description="Restarts within the budget window.")
    budget_remaining: int | None = Field(None, description="Restarts left before exhaustion.")
    consecutive: int | None = Field(
        None, ge=0, description="Failures in a row since a run lasted minUptime (PM2)."
    )
    last_reason: str | None = Field(None, description="Reason of the last restart.")
    last_exit_code: int | None = Field(None, description="Exit code of the last restart.")
    last_time: datetime | None = Field(None, description="When the last restart happened.")
    recent: list[datetime] | None = Field(
        None,
        max_length=10001,
        description="When the restarts within the window happened, newest first.",
    )
    counted: list[CountedRuns] | None = Field(
        None, description="Per container of each pod: how far its runs are counted."
    )
    hold: Hold | None = Field(None, description="The exhausted budget's action, while it holds.")
    reset_at: datetime | None = Field(
        None, description="When the budget was last reset: earlier restarts do not count."
    )


class Failure(Model):
    """One classified container failure."""

    time: datetime = Field(description="When it failed.")
    pod: str = Field(description="Pod name.")
    container: str = Field(description="Container name.")
    reason: str = Field(description="CrashLoop, OOMKilled, ProbeFailed, ImagePullFailed, ExitCode.")
    exit_code: int | None = Field(None, description="Exit code, if it exited.")
    message: str | None = Field(None, description="Detail from the kubelet.")


class AlertState(StrEnum):
    FIRING = "Firing"
    RESOLVED = "Resolved"
    SUPPRESSED = "Suppressed"


class Notification(Model):
    """A notification decided and not yet delivered (the durable outbox)."""

    id: str = Field(description="Stable id: the same decision is one entry, one delivery.")
    receiver: str = Field(description="Name of the receiver in the operator's config.")
    action: str = Field(description="trigger or resolve.")
    step: int | None = Field(None, ge=0, description="Ladder step (trigger).")
    severity: Severity | None = Field(None, description="The step's severity.")
    reason: str | None = Field(None, description="The incident's reason family.")
    summary: str | None = Field(None, description="What failed, as the Ready condition said.")
    exit_code: int | None = Field(None, description="Exit code of the last failure.")
    dependents: list[str] | None = Field(
        None, max_length=10, description="namespace/name of dependents affected (first 10)."
    )
    dependent_count: int | None = Field(None, ge=0, description="How many dependents wait.")
    decided_at: datetime | None = Field(None, description="When tend decided to send it.")


class AlertStatus(Model):
    """The current or last incident."""

    state: AlertState | None = Field(None, description="Firing, Resolved or Suppressed.")
    severity: Severity | None = Field(None, description="Severity of the last step fired.")
    step: int | None = Field(None, ge=0, description="Index of the last ladder step fired.")
    since: datetime | None = Field(None, description="When the incident opened.")
    key: str | None = Field(None, description="Incident key, stable across operator restarts.")
    reason: str | None = Field(None, description="Reason family: Crashing or NotStarting.")
    fired: list[int] | None = Field(None, description="Ladder steps fired in this incident.")
    healthy_since: datetime | None = Field(
        None, description="Ready since: the incident resolves after resolveAfter of it."
    )
    resolved_at: datetime | None = Field(None, description="When the incident resolved.")
    suppressed_by: str | None = Field(
        None, description="namespace/name of the failing dependency that owns the alert."
    )
    last_notified: datetime | None = Field(None, description="When a receiver last got one.")
    outbox: list[Notification] | None = Field(
        None, max_length=100, description="Notifications decided and not yet delivered."
    )


class ManagedServiceStatus(Model):
    """What the operator observed, at observedGeneration."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = Field(None, description="Generation last reconciled.")
    phase: Phase | None = Field(None, description="Pending, Blocked, Progressing, Running, ...")
    conditions: list[Condition] | None = Field(
        None,
        description="Ready, DependenciesReady, Progressing, Degraded, RestartBudgetExhausted,"
        " and kstatus's Reconciling and Stalled.",
    )
    blocked_by: list[BlockedBy] | None = Field(None, description="Unsatisfied dependencies.")
    workload: Workload | None = Field(None, description="The Deployment or Job.")
    restarts: Restarts | None = Field(None, description="Restart accounting.")
    recent_failures: list[Failure] | None = Field(
        None, max_length=10, description="The last 10 classified failures."
    )
    alert: AlertStatus | None = Field(None, description="The current incident.")

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions or [] if c.type == type_), None)
