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

from tend.api import AlertState, BlockedBy, DependencyCondition, ManagedService, Reason
from tend.logic.graph import MANAGED_SERVICE, Graph, Ref, format_cycle
from tend.logic.readiness import readiness

NOT_FOUND = "not found"  # the message of a dependency that does not exist


def missing(blocker: BlockedBy) -> bool:
    """Whether the blocker does not exist (not: exists and is itself blocked by a missing
    one, which has the same reason, DependencyNotFound)."""
    return blocker.reason == Reason.DEPENDENCY_NOT_FOUND and blocker.message in (None, NOT_FOUND)


@dataclass(frozen=True)
class DependencyVerdict:
    """Whether one dependency is satisfied; when not, why (a reason) and a detail."""

    satisfied: bool
    reason: str = ""
    message: str = ""


def managed_service_verdict(body: Mapping[str, Any] | None, wanted: str) -> DependencyVerdict:
    """Judge a ManagedService dependency from its live body (None: not found)."""
    seen = readiness(body)
    if not seen.exists or seen.deleting:
        return DependencyVerdict(False, Reason.DEPENDENCY_NOT_FOUND.value, NOT_FOUND)
    if not seen.current:
        return DependencyVerdict(
            False,
            Reason.DEPENDENCY_NOT_READY.value,
            f"generation {seen.generation} not yet reconciled",
        )
    if wanted == DependencyCondition.SUCCEEDED:
        if seen.succeeded:
            return DependencyVerdict(True)
        phase = seen.phase or "Pending"
        return DependencyVerdict(False, seen.why_not, f"phase={phase}, want Succeeded")
    if seen.is_ready:
        return DependencyVerdict(True)
    # It exists and is not Ready: its own reason (DESIGN.md's blockedBy), and a message that
    # says it exists and why it is not Ready, with its first blocker when it is blocked
    # itself (`Blocked: DependencyNotFound default/missing`): a dependency blocked by a
    # missing one of its own is not missing.
    state = f"{seen.phase}: {seen.why_not}" if seen.phase else f"Ready={seen.ready or 'Unknown'}"
    blockers = ((body or {}).get("status") or {}).get("blockedBy") or []
    if blockers:
        first = blockers[0]
        state += f" {first.get('namespace')}/{first.get('name')}"
        if len(blockers) > 1:
            state += f" and {len(blockers) - 1} more"
    return DependencyVerdict(False, seen.why_not or Reason.DEPENDENCY_NOT_READY.value, state)


def service_verdict(exists: bool, ready_endpoints: int) -> DependencyVerdict:
    """Judge a plain Service dependency."""
    if not exists:
        return DependencyVerdict(False, Reason.DEPENDENCY_NOT_FOUND.value, NOT_FOUND)
    if ready_endpoints < 1:
        return DependencyVerdict(False, Reason.DEPENDENCY_NOT_READY.value, "no ready endpoints")
    return DependencyVerdict(True)


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
            verdict = DependencyVerdict(False, Reason.DEPENDENCY_CYCLE.value, path)
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
            if alert.get("state") == AlertState.SUPPRESSED and alert.get("suppressedBy"):
                return str(alert["suppressedBy"])
        return f"{blocker.namespace}/{blocker.name}"
    return None
