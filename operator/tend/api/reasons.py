"""The words status, Events and metrics share: phases, condition types, reasons."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ConditionStatus",
    "ConditionType",
    "Phase",
    "Reason",
]


class Phase(StrEnum):
    PENDING = "Pending"
    BLOCKED = "Blocked"
    PROGRESSING = "Progressing"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


class ConditionType(StrEnum):
    READY = "Ready"
    DEPENDENCIES_READY = "DependenciesReady"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    RESTART_BUDGET_EXHAUSTED = "RestartBudgetExhausted"
    # kstatus (sigs.k8s.io/cli-utils/pkg/kstatus), read by Flux health checks, kstatus-based
    # tools and Argo CD: still converging; cannot converge without a change.
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


class Reason(StrEnum):
    """CamelCase reasons shared by conditions, Events and metric labels."""

    DEPENDENCY_NOT_READY = "DependencyNotReady"
    DEPENDENCY_NOT_FOUND = "DependencyNotFound"
    DEPENDENCY_CYCLE = "DependencyCycle"
    INVALID_SPEC = "InvalidSpec"
    RECONCILED = "Reconciled"
    ROLLOUT_IN_PROGRESS = "RolloutInProgress"
    CRASH_LOOP = "CrashLoop"
    OOM_KILLED = "OOMKilled"
    PROBE_FAILED = "ProbeFailed"
    IMAGE_PULL_FAILED = "ImagePullFailed"
    EXIT_CODE = "ExitCode"
    UNSCHEDULABLE = "Unschedulable"
    CONFIG_ERROR = "ConfigError"
    OWNERSHIP_CONFLICT = "OwnershipConflict"
    RESTART_BUDGET_EXHAUSTED = "RestartBudgetExhausted"
    ROLLED_BACK = "RolledBack"
    SCALED_TO_ZERO = "ScaledToZero"
    ESCALATED = "Escalated"
    ALERT_RESOLVED = "AlertResolved"
    ALERT_SUPPRESSED = "AlertSuppressed"
    ALERT_DELIVERY_FAILED = "AlertDeliveryFailed"


class ConditionStatus(StrEnum):
    """metav1.ConditionStatus."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"
