"""deploy/argocd/health.lua, the Argo CD health check of a ManagedService, run in Lua 5.1 (the
language of Argo CD's gopher-lua, here lupa's) against the statuses tend writes: Healthy,
Progressing, Degraded and Suspended, each with the deciding condition's message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from kustomized import ROOT
from lupa.lua51 import LuaRuntime

from tend.api import BlockedBy, WorkloadKind
from tend.logic.conditions import compute_status, merge_conditions
from tend.logic.observation import Observation
from tend.logic.workload import WorkloadState

SCRIPT = (ROOT / "deploy" / "argocd" / "health.lua").read_text()
KEY = "resource.customizations.health.tend.dev_ManagedService"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """What Argo CD would show: the script sees the object as the global `obj`."""
    lua = LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT)
    return result["status"], result["message"]


def cond(kind: str, status: str, reason: str, message: str = "", gen: int = 3) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "observedGeneration": gen}  # fmt: skip


def msvc(status: dict[str, Any] | None, generation: int = 3) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "tend.dev/v1alpha1",
        "kind": "ManagedService",
        "metadata": {"name": "api", "namespace": "shop", "generation": generation},
        "spec": {"image": "ghcr.io/stefanprodan/podinfo:6.7.1"},
    }
    if status is not None:
        body["status"] = status
    return body


def status(phase: str, *conditions: dict[str, Any], observed: int = 3) -> dict[str, Any]:
    return {"observedGeneration": observed, "phase": phase, "conditions": list(conditions)}


CASES = [
    ("no status yet", msvc(None),
     ("Progressing", "Waiting for tend to observe the ManagedService")),
    ("an edit not yet observed", msvc(status("Running", cond("Ready", "True", "Reconciled")),
                                      generation=4),
     ("Progressing", "Waiting for tend to observe generation 4")),
    ("running and ready", msvc(status(
        "Running", cond("Ready", "True", "Reconciled", "2 of 2 ready"),
        cond("Reconciling", "False", "Reconciled"), cond("Stalled", "False", "Reconciled"))),
     ("Healthy", "2 of 2 ready")),
    ("ready, but at an older generation's condition", msvc(status(
        "Running", cond("Ready", "True", "Reconciled", "old", gen=2),
        cond("Reconciling", "True", "RolloutInProgress", "rolling out generation 3"))),
     ("Progressing", "rolling out generation 3")),
    ("a completed Job", msvc(status(
        "Succeeded", cond("Ready", "True", "Reconciled", "completed: 1 of 1 succeeded"))),
     ("Healthy", "completed: 1 of 1 succeeded")),
    ("waiting for a dependency", msvc(status(
        "Blocked", cond("Ready", "False", "DependencyNotReady", "waiting for shop/postgres"),
        cond("Reconciling", "True", "DependencyNotReady", "waiting for shop/postgres"))),
     ("Progressing", "waiting for shop/postgres")),
    ("rolling out", msvc(status(
        "Progressing", cond("Ready", "False", "RolloutInProgress", "1 of 2 ready"),
        cond("Reconciling", "True", "RolloutInProgress", "1 of 2 ready"))),
     ("Progressing", "1 of 2 ready")),
    ("rolling out, before tend writes Reconciling", msvc(status(
        "Progressing", cond("Ready", "False", "RolloutInProgress", "1 of 2 ready"))),
     ("Progressing", "1 of 2 ready")),
    ("crash-looping", msvc(status(
        "Degraded", cond("Ready", "False", "CrashLoop", "CrashLoop: exit 3 after 1s"),
        cond("Reconciling", "True", "CrashLoop", "CrashLoop: exit 3 after 1s"))),
     ("Degraded", "CrashLoop: exit 3 after 1s")),
    ("an invalid spec", msvc(status(
        "Failed", cond("Ready", "False", "InvalidSpec", "spec.probes: no port"),
        cond("Stalled", "True", "InvalidSpec", "spec.probes.readiness: names no port"))),
     ("Degraded", "spec.probes.readiness: names no port")),
    ("a dependency cycle", msvc(status(
        "Blocked", cond("Ready", "False", "DependencyCycle", "a -> b -> a"),
        cond("Stalled", "True", "DependencyCycle", "a -> b -> a"))),
     ("Degraded", "a -> b -> a")),
    ("budget exhausted, onExhausted Alert: still failing", msvc(status(
        "Degraded", cond("Ready", "False", "CrashLoop", "CrashLoop: exit 3"),
        cond("RestartBudgetExhausted", "True", "RestartBudgetExhausted", "3 restarts in 5m"),
        cond("Stalled", "True", "RestartBudgetExhausted", "3 restarts in 5m"))),
     ("Degraded", "3 restarts in 5m")),
    ("budget exhausted, onExhausted ScaleToZero", msvc(status(
        "Failed", cond("Ready", "False", "ScaledToZero", "stopped after 6 restarts in 5m"),
        cond("RestartBudgetExhausted", "True", "RestartBudgetExhausted", "6 restarts"),
        cond("Stalled", "True", "RestartBudgetExhausted", "6 restarts"))),
     ("Suspended", "stopped after 6 restarts in 5m")),
    ("rolled back", msvc(status(
        "Degraded", cond("Ready", "False", "RolledBack", "runs generation 2, not 3"))),
     ("Degraded", "runs generation 2, not 3")),
    ("a Job that failed", msvc(status(
        "Failed", cond("Ready", "False", "ExitCode", "the Job failed"))),
     ("Degraded", "the Job failed")),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_argo_cd_sees_the_managed_services_health(
    obj: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert health(obj) == expected


def test_the_argocd_cm_snippet_carries_the_script_under_argo_cds_key() -> None:
    cm = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm.yaml").read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"][KEY] == SCRIPT


RUNNING = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 2, current=True, rolled_out=True)
ROLLING = WorkloadState(WorkloadKind.DEPLOYMENT, "api", 2, 0, current=True, message="0 of 2")
DB = BlockedBy(kind="ManagedService", namespace="shop", name="db", reason="CrashLoop")


@pytest.mark.parametrize(
    ("seen", "extra", "verdict"),
    [
        (Observation(3, False, workload=RUNNING), {}, "Healthy"),
        (Observation(3, False, workload=ROLLING), {}, "Progressing"),
        (Observation(3, False, blocked_by=[DB]), {}, "Progressing"),
        (Observation(3, False, problems=["spec.x: bad"]), {}, "Degraded"),
        (Observation(3, False, workload=ROLLING), {"exhausted": "6 restarts"}, "Degraded"),
        (
            Observation(3, False, workload=RUNNING),
            {"exhausted": "6 restarts", "held": "ScaleToZero", "held_message": "stopped"},
            "Suspended",
        ),
    ],
    ids=["running", "rolling-out", "blocked", "invalid-spec", "budget-exhausted", "scaled-to-zero"],
)
def test_the_statuses_tend_computes_read_as_argo_cd_should(
    seen: Observation, extra: dict[str, Any], verdict: str
) -> None:
    """Not fixtures: the status tend's own pure functions compute (phase and conditions)."""
    phase, conditions = compute_status(seen, **extra)
    stamped = merge_conditions(
        None, conditions, generation=3, now=datetime(2026, 12, 2, tzinfo=UTC)
    )
    written = status(phase.value, *(c.to_api() for c in stamped))
    assert health(msvc(written))[0] == verdict
