"""Dependency verdicts: Ready at the current generation, Succeeded, ready endpoints, cycles."""

from __future__ import annotations

from typing import Any

from tend.api import BlockedBy, ManagedService
from tend.logic.conditions import describe_blockers
from tend.logic.dependencies import blocked_by, managed_service_verdict, missing, service_verdict
from tend.logic.graph import Graph


def body(
    name: str,
    *,
    generation: int = 1,
    observed: int | None = 1,
    phase: str = "Running",
    ready: str = "True",
    reason: str = "Reconciled",
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "shop", "generation": generation},
        "status": {
            "observedGeneration": observed,
            "phase": phase,
            "conditions": [{"type": "Ready", "status": ready, "reason": reason}],
        },
    }


def ms(name: str, *deps: dict[str, Any]) -> ManagedService:
    return ManagedService.model_validate(
        {
            "apiVersion": "tend.dev/v1alpha1",
            "kind": "ManagedService",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"image": "x", "dependsOn": list(deps) or None},
        }
    )


def test_ready_at_the_current_generation_satisfies() -> None:
    assert managed_service_verdict(body("db"), "Ready").satisfied


def test_ready_at_an_older_generation_does_not() -> None:
    verdict = managed_service_verdict(body("db", generation=2, observed=1), "Ready")
    assert not verdict.satisfied
    assert verdict.message == "generation 2 not yet reconciled"


def test_not_ready_reports_the_dependencys_own_reason() -> None:
    verdict = managed_service_verdict(body("db", ready="False", reason="CrashLoop"), "Ready")
    assert (verdict.satisfied, verdict.reason) == (False, "CrashLoop")
    assert verdict.message == "Running: CrashLoop"  # its phase and its reason


def test_a_dependency_blocked_by_a_missing_one_is_not_missing_itself() -> None:
    """a -> b -> missing: `a` waits for `b`, which exists and is blocked."""
    b = body("b", ready="False", reason="DependencyNotFound", phase="Blocked")
    b["status"]["blockedBy"] = [
        {"kind": "ManagedService", "namespace": "default", "name": "missing",
         "reason": "DependencyNotFound", "message": "not found"},
    ]  # fmt: skip
    verdict = managed_service_verdict(b, "Ready")
    assert verdict.reason == "DependencyNotFound"  # b's own reason, as blockedBy reports it
    assert verdict.message == "Blocked: DependencyNotFound default/missing"
    blocker = BlockedBy(kind="ManagedService", namespace="default", name="b",
                        reason=verdict.reason, message=verdict.message)  # fmt: skip
    assert not missing(blocker)
    assert describe_blockers([blocker]) == (
        "waiting for default/b (Blocked: DependencyNotFound default/missing)"
    )
    gone = BlockedBy(kind="ManagedService", namespace="default", name="missing",
                     reason="DependencyNotFound", message="not found")  # fmt: skip
    assert missing(gone) and describe_blockers([gone]) == "default/missing not found"


def test_succeeded_wants_the_succeeded_phase() -> None:
    assert managed_service_verdict(body("m", phase="Succeeded"), "Succeeded").satisfied
    assert not managed_service_verdict(body("m", phase="Progressing"), "Succeeded").satisfied


def test_missing_or_deleting_is_not_found() -> None:
    assert managed_service_verdict(None, "Ready").reason == "DependencyNotFound"
    deleting = body("db")
    deleting["metadata"]["deletionTimestamp"] = "2026-11-23T00:00:00Z"
    assert managed_service_verdict(deleting, "Ready").reason == "DependencyNotFound"


def test_service_dependencies_need_a_ready_endpoint() -> None:
    assert service_verdict(True, 1).satisfied
    assert service_verdict(True, 0).reason == "DependencyNotReady"
    assert service_verdict(False, 0).reason == "DependencyNotFound"


def test_blocked_by_lists_each_unsatisfied_dependency_in_spec_order() -> None:
    app = ms(
        "app",
        {"name": "db"},
        {"name": "cache"},
        {"service": {"name": "ldap", "namespace": "infra"}},
    )
    graph = Graph.from_services([app])
    bodies = {
        ("shop", "db"): body("db"),
        ("shop", "cache"): body("cache", ready="False", reason="OOMKilled"),
    }
    result = blocked_by(app, graph, lambda ns, n: bodies.get((ns, n)), lambda ns, n: (True, 0))
    assert [(b.kind, b.namespace, b.name, b.reason) for b in result] == [
        ("ManagedService", "shop", "cache", "OOMKilled"),
        ("Service", "infra", "ldap", "DependencyNotReady"),
    ]


def test_members_of_a_cycle_are_blocked_by_the_named_path() -> None:
    a, b = ms("a", {"name": "b"}), ms("b", {"name": "a"})
    graph = Graph.from_services([a, b])
    result = blocked_by(a, graph, lambda ns, n: body(n), lambda ns, n: (False, 0))
    assert [(x.name, x.reason) for x in result] == [("b", "DependencyCycle")]
    assert result[0].message == "a → b → a"
