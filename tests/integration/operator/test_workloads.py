"""What a ManagedService owns follows its spec: exactly the Deployment, Service and
PodDisruptionBudget it builds, owned by it; replicas scale it, the PDB and Service come and go."""

from __future__ import annotations

from typing import Any

from harness import Operator, managed_service, wait_ready
from waiting import until

from tend.api import ManagedService
from tend.api.config import OperatorConfig
from tend.logic.builders import build_all
from tend.runtime.kube import Kube
from tend_sim import SimCluster


def subset(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` lacks what `expected` has (server-defaulted extras are fine)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        return [m for k, v in expected.items() for m in subset(v, actual.get(k), f"{path}.{k}")]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return [
            m
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for m in subset(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


async def test_create_builds_exactly_the_deployment_service_and_pdb(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    body = managed_service("api", replicas=2, ports=[{"name": "http", "containerPort": 8080}])
    await kube.create(body)
    live_ms = await wait_ready(cluster, kube, "api")
    expected = build_all(ManagedService.model_validate(live_ms), OperatorConfig())
    for obj in expected:
        live = await kube.get(obj["kind"], "default", "api")
        assert live is not None, obj["kind"]
        assert subset(obj, live) == [], obj["kind"]
        owner = live["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "ManagedService",
            live_ms["metadata"]["uid"],
            True,
        )
    status = live_ms["status"]
    assert status["phase"] == "Running"
    assert status["workload"] == {
        "kind": "Deployment",
        "name": "api",
        "replicas": 2,
        "readyReplicas": 2,
    }
    assert {c["type"] for c in status["conditions"]} == {
        "Ready",
        "DependenciesReady",
        "Progressing",
        "Degraded",
        "RestartBudgetExhausted",
        "Reconciling",
        "Stalled",
    }
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])


async def test_scaling_follows_the_spec_and_the_pdb_comes_and_goes(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("web", replicas=1))
    body = await wait_ready(cluster, kube, "web")
    assert await kube.get("PodDisruptionBudget", "default", "web") is None
    body["spec"]["replicas"] = 3
    await kube.replace(body)
    body = await wait_ready(cluster, kube, "web")
    assert body["status"]["workload"]["readyReplicas"] == 3
    assert await kube.get("PodDisruptionBudget", "default", "web") is not None
    body["spec"]["replicas"] = 1
    await kube.replace(body)
    await wait_ready(cluster, kube, "web")
    assert await kube.get("PodDisruptionBudget", "default", "web") is None


async def test_removing_ports_deletes_the_service(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("api", ports=[{"name": "http", "containerPort": 80}]))
    body = await wait_ready(cluster, kube, "api")
    assert await kube.get("Service", "default", "api") is not None
    del body["spec"]["ports"]
    await kube.replace(body)

    async def service_gone() -> bool:
        return await kube.get("Service", "default", "api") is None

    await until(cluster, service_gone, "Service default/api deleted")
    await wait_ready(cluster, kube, "api")
