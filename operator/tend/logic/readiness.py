"""Whether a ManagedService is Ready at its generation: the one verdict everyone reads.

Flux's dependency contract, which DESIGN.md adopts: an object is Ready when its Ready
condition is True *and* `status.observedGeneration == metadata.generation`, so a spec
change that the operator has not reconciled yet never counts as ready. Dependents
(`dependencies`), the controller's wake-ups and the demo's table all read a
ManagedService through `readiness`, and nothing else looks at its conditions.
"""

from __future__ import annotations

import enum
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
    suppressed_by: str | None = None  # whose failure its alerts are suppressed for (the root)

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
        suppressed_by=(status.get("alert") or {}).get("suppressedBy"),
    )


class News(enum.Enum):
    """What a change of a dependency's readiness means to the services that wait on it."""

    NONE = "none"  # nothing they read changed
    NOW = "now"  # their verdict may flip (it became ready, or stopped being; appeared,
    # went away; was reconciled for the first time at its generation): wake them at once
    LATER = "later"  # only the detail their messages quote (its phase, its reason): a
    # refresh can wait, batched, so a long chain does not rewrite every member's status
    # at each step of the member before it


def news_for_dependents(before: Readiness, after: Readiness) -> News:
    """How soon dependents must hear of a change from `before` to `after`."""
    if before == after:
        return News.NONE
    return News.NOW if _decisive(before) != _decisive(after) else News.LATER


def _decisive(r: Readiness) -> tuple[bool, ...]:
    return (r.exists, r.deleting, r.current, r.is_ready, r.succeeded)
