"""A live Deployment or Job, read the way `kubectl rollout status` reads it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tend.api import ManagedService, Workload, WorkloadKind
from tend.logic.builders import DESIRED_HASH_ANNOTATION
from tend.logic.ownership import owned_by
from tend.logic.plan import WORKLOAD_KINDS


@dataclass(frozen=True)
class WorkloadState:
    """A live Deployment or Job, as far as readiness goes."""

    kind: WorkloadKind
    name: str
    replicas: int = 0
    ready_replicas: int = 0
    current: bool = False  # the live template is the one tend wants now (desired-hash matches)
    rolled_out: bool = False  # the controller finished rolling out the live template
    succeeded: bool = False  # Job: Complete
    failed: bool = False  # Job: Failed; Deployment: ProgressDeadlineExceeded
    message: str = ""
    observed: bool = True  # its controller has seen the live spec (observedGeneration)

    @property
    def ready(self) -> bool:
        return self.current and self.rolled_out and not self.failed

    def summary(self) -> Workload:
        return Workload(
            kind=self.kind,
            name=self.name,
            replicas=self.replicas,
            ready_replicas=self.ready_replicas,
        )


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), None)


def observe_workload(live: Mapping[str, Any], desired_hash: str | None) -> WorkloadState:
    """Read a Deployment or Job like `kubectl rollout status` does."""
    metadata = live.get("metadata") or {}
    spec = live.get("spec") or {}
    status = live.get("status") or {}
    annotations = metadata.get("annotations") or {}
    current = desired_hash is not None and annotations.get(DESIRED_HASH_ANNOTATION) == desired_hash
    name = metadata.get("name", "")
    observed = status.get("observedGeneration", 0) >= metadata.get("generation", 0)
    if live.get("kind") == "Job":
        complete = _condition(live, "Complete")
        failed = _condition(live, "Failed")
        succeeded = bool(complete and complete.get("status") == "True")
        is_failed = bool(failed and failed.get("status") == "True")
        completions = spec.get("completions") or 1
        return WorkloadState(
            kind=WorkloadKind.JOB,
            name=name,
            replicas=completions,
            ready_replicas=status.get("succeeded", 0),
            current=current,
            rolled_out=succeeded,
            succeeded=succeeded,
            failed=is_failed,
            message=(failed or {}).get("message", "") if is_failed else "",
        )
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    progressing = _condition(live, "Progressing")
    deadline = bool(progressing and progressing.get("reason") == "ProgressDeadlineExceeded")
    rolled_out = observed and updated >= wanted and total <= updated and available >= updated
    if not observed:
        message = "waiting for the Deployment controller to observe the new spec"
    elif updated < wanted:
        message = f"{updated} of {wanted} replicas updated"
    elif total > updated:
        message = f"{total - updated} old replicas pending termination"
    elif available < updated:
        message = f"{available} of {updated} updated replicas available"
    else:
        message = f"{available} of {wanted} replicas ready"
    return WorkloadState(
        kind=WorkloadKind.DEPLOYMENT,
        name=name,
        replicas=wanted,
        ready_replicas=status.get("readyReplicas", 0),
        current=current,
        rolled_out=rolled_out,
        failed=deadline,
        message=(progressing or {}).get("message", message) if deadline else message,
        observed=observed,
    )


def current_workload(
    ms: ManagedService,
    desired: Sequence[Mapping[str, Any]],
    live: Mapping[str, Mapping[str, Any] | None],
) -> WorkloadState | None:
    """The Deployment or Job that `ms` controls (by uid, not name), read against the
    template it wants now (`desired`, from the builders); None when there is none.
    `live` maps each workload kind to the live object of that name, or None."""
    wanted = next((o for o in desired if o["kind"] in WORKLOAD_KINDS), None)
    desired_hash = wanted["metadata"]["annotations"][DESIRED_HASH_ANNOTATION] if wanted else None
    for kind in WORKLOAD_KINDS:
        obj = live.get(kind)
        if obj is not None and owned_by(obj, ms):
            return observe_workload(obj, desired_hash)
    return None
