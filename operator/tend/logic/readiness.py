"""Whether a ManagedService is Ready at its generation: the one verdict everyone reads.

Flux's dependency contract, which DESIGN.md adopts: an object is Ready when its Ready
condition is True *and* `status.observedGeneration == metadata.generation`, so a spec
change that the operator has not reconciled yet never counts as ready. Dependents
(`dependencies`), the controller's wake-ups and the demo's table all read a
ManagedService through `readiness`, and nothing else looks at its conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tend.api import ConditionStatus, ConditionType, Phase, Reason


@dataclass(frozen=True)
class Readiness:
    """What a ManagedService's status says about being ready, and nothing else: two equal
    values mean its dependents have nothing new to learn."""

    exists: bool = False
    deleting: bool = False
    generation: int | None = None
    observed_generation: int | None = None
    phase: str | None = None
    ready: str | None = None  # the Ready condition's status: True, False, Unknown, or unset
    reason: str | None = None  # the Ready condition's reason

    @property
    def current(self) -> bool:
        """The status describes the spec as it is now (observedGeneration == generation)."""
        return self.generation is None or self.observed_generation == self.generation

    @property
    def is_ready(self) -> bool:
        """Ready=True at the current generation (Flux's `dependsOn` contract)."""
        return self.exists and not self.deleting and self.current and self.ready == "True"

    @property
    def succeeded(self) -> bool:
        """A run-to-completion service that completed, at the current generation."""
        return self.exists and not self.deleting and self.current and self.phase == Phase.SUCCEEDED

    @property
    def why_not(self) -> str:
        """The service's own reason for not being Ready (CrashLoop, RolloutInProgress, ...)."""
        if self.ready != ConditionStatus.TRUE and self.reason:
            return self.reason
        return Reason.DEPENDENCY_NOT_READY.value


def readiness(body: Mapping[str, Any] | None) -> Readiness:
    """Read a ManagedService body (None: it does not exist)."""
    if body is None:
        return Readiness()
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == ConditionType.READY),
        {},
    )
    return Readiness(
        exists=True,
        deleting=bool(metadata.get("deletionTimestamp")),
        generation=metadata.get("generation"),
        observed_generation=status.get("observedGeneration"),
        phase=status.get("phase"),
        ready=ready.get("status"),
        reason=ready.get("reason"),
    )
