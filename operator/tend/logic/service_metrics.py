"""What the per-service metrics say about one ManagedService, read from its status.

The operator computes these at scrape time from its cache (`tend.runtime.metrics`), so a
series never drifts from the status it reports and disappears with the ManagedService.
Everything here is read from the object itself, `status.restarts.byReason` included, so the
restart counters continue across operator restarts instead of starting again at zero.

Shapes follow kube-state-metrics: a 0/1 gauge per phase (like `kube_pod_status_phase`), an
`_info` series whose labels carry the descriptive values, counters for what only grows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tend.api.reasons import ConditionType, Phase
from tend.api.spec import Policy

PHASES = tuple(phase.value for phase in Phase)


@dataclass(frozen=True, slots=True)
class ServiceSamples:
    """One ManagedService's values for the per-service metrics."""

    namespace: str
    name: str
    ready: bool
    phase: str | None  # None before tend first reported one
    image: str
    policy: str
    restarts: tuple[tuple[str, int], ...]  # (reason, count), by reason
    budget_remaining: int | None  # None: no budget (maxRestarts unset)
    budget_exhausted: bool  # the RestartBudgetExhausted condition is True
    blocked_by: int  # dependencies not satisfied


def service_samples(body: Mapping[str, Any]) -> ServiceSamples:
    """The per-service values of a ManagedService body (as the API server returns it)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    restarts = status.get("restarts") or {}
    by_reason = restarts.get("byReason") or {}
    budget = restarts.get("budgetRemaining")
    return ServiceSamples(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        ready=ConditionType.READY in true,
        phase=str(status["phase"]) if status.get("phase") else None,
        image=str(spec.get("image") or ""),
        policy=str((spec.get("restartPolicy") or {}).get("policy") or Policy.ALWAYS),
        restarts=tuple(sorted((str(r), int(n)) for r, n in by_reason.items() if n)),
        budget_remaining=int(budget) if budget is not None else None,
        budget_exhausted=ConditionType.RESTART_BUDGET_EXHAUSTED in true,
        blocked_by=len(status.get("blockedBy") or []),
    )
