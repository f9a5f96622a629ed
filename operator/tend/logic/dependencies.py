"""Whether a ManagedService's dependencies are satisfied, from what the operator has seen.

The contract follows Flux's `dependsOn`: a ManagedService dependency is satisfied when
it is `Ready=True` at its current generation (`observedGeneration == generation`),
or, with `condition: Succeeded`, when it has completed successfully; a plain Service
dependency when it has at least one ready endpoint. Pure functions over plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tend.api import BlockedBy, DependencyCondition, ManagedService, Phase, Reason
from tend.logic.graph import MANAGED_SERVICE, Graph, Ref, format_cycle


@dataclass(frozen=True)
class Verdict:
    satisfied: bool
    reason: str = ""
    message: str = ""


def managed_service_verdict(body: Mapping[str, Any] | None, wanted: str) -> Verdict:
    """Judge a ManagedService dependency from its live body (None: not found)."""
    if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
        return Verdict(False, Reason.DEPENDENCY_NOT_FOUND.value, "not found")
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed != generation:
        return Verdict(
            False,
            Reason.DEPENDENCY_NOT_READY.value,
            f"generation {generation} not yet reconciled",
        )
    phase = status.get("phase")
    if wanted == DependencyCondition.SUCCEEDED:
        if phase == Phase.SUCCEEDED:
            return Verdict(True)
        return Verdict(False, _reason_of(status), f"phase={phase or 'Pending'}, want Succeeded")
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is not None and ready.get("status") == "True":
        return Verdict(True)
    reason = _reason_of(status)
    return Verdict(False, reason, f"Ready={ready.get('status') if ready else 'Unknown'}: {reason}")


def _reason_of(status: Mapping[str, Any]) -> str:
    """The dependency's own failure reason (CrashLoop, RolloutInProgress, ...)."""
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is not None and ready.get("status") != "True" and ready.get("reason"):
        return str(ready["reason"])
    return Reason.DEPENDENCY_NOT_READY.value


def service_verdict(exists: bool, ready_endpoints: int) -> Verdict:
    """Judge a plain Service dependency."""
    if not exists:
        return Verdict(False, Reason.DEPENDENCY_NOT_FOUND.value, "not found")
    if ready_endpoints < 1:
        return Verdict(False, Reason.DEPENDENCY_NOT_READY.value, "no ready endpoints")
    return Verdict(True)


def blocked_by(
    ms: ManagedService,
    graph: Graph,
    lookup_service: Callable[[str, str], Mapping[str, Any] | None],
    lookup_endpoints: Callable[[str, str], tuple[bool, int]],
) -> list[BlockedBy]:
    """Every unsatisfied dependency of `ms`, in spec order, with its reason.

    `lookup_service(namespace, name)` returns a ManagedService body or None;
    `lookup_endpoints(namespace, name)` returns (Service exists, ready endpoints).
    A dependency on the path of a cycle through `ms` is reported as DependencyCycle
    naming the whole path, whatever its own state.
    """
    own = Ref.of(ms)
    cycle = graph.cycle_through(own)
    in_cycle = set(cycle or [])
    path = format_cycle(cycle, ms.namespace) if cycle else ""
    result: list[BlockedBy] = []
    for dep in ms.spec.depends_on or []:
        kind, namespace, name = dep.target(ms.namespace)
        if kind == MANAGED_SERVICE and Ref(kind, namespace, name) in in_cycle:
            verdict = Verdict(False, Reason.DEPENDENCY_CYCLE.value, path)
        elif kind == MANAGED_SERVICE:
            verdict = managed_service_verdict(lookup_service(namespace, name), dep.wanted)
        else:
            verdict = service_verdict(*lookup_endpoints(namespace, name))
        if not verdict.satisfied:
            result.append(
                BlockedBy(
                    kind=kind,
                    namespace=namespace,
                    name=name,
                    reason=verdict.reason,
                    message=verdict.message or None,
                )
            )
    return result


def root_cause(
    blocked: Sequence[BlockedBy],
    lookup_service: Callable[[str, str], Mapping[str, Any] | None],
) -> str | None:
    """`namespace/name` of the dependency whose failure is the real cause.

    A dependency that is itself only failing because of its own dependency has recorded
    that root in `status.alert.suppressedBy`; following it pages for the root only.
    """
    for blocker in blocked:
        if blocker.kind == MANAGED_SERVICE:
            body = lookup_service(blocker.namespace, blocker.name) or {}
            alert = (body.get("status") or {}).get("alert") or {}
            if alert.get("state") == "Suppressed" and alert.get("suppressedBy"):
                return str(alert["suppressedBy"])
        return f"{blocker.namespace}/{blocker.name}"
    return None
