"""The operator core against the simulated cluster: objects, status, Events, idempotence."""

from __future__ import annotations

import asyncio
from typing import Any

from harness import (
    Operator,
    condition,
    events_for,
    is_ready,
    managed_service,
    wait_ready,
)
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
    }
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])


async def test_an_image_update_rolls_out_and_reports_progress_then_ready(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(managed_service("api", image="example/api:1"))
    body = await wait_ready(cluster, kube, "api")
    body["spec"]["image"] = "sim/ready:2s"
    await kube.replace(body)

    def progressing(live: dict[str, Any] | None) -> bool:
        return (
            condition(live, "Progressing").get("status") == "True"
            and (live or {})["status"].get("observedGeneration") == 2
        )

    await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Progressing=True at generation 2",
        satisfied=progressing,
    )
    live = await wait_ready(cluster, kube, "api")
    deployment = await kube.get("Deployment", "default", "api")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "sim/ready:2s"
    reasons = [e["reason"] for e in await events_for(kube, "api")]
    assert reasons.count("RolloutInProgress") >= 2  # created, then the new image
    assert live["status"]["observedGeneration"] == 2


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


async def test_deleting_the_managed_service_cascades(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(
        managed_service("api", replicas=2, ports=[{"name": "http", "containerPort": 80}])
    )
    await wait_ready(cluster, kube, "api")
    await kube.delete("ManagedService", "default", "api")

    async def all_gone() -> bool:
        kinds = ("Deployment", "Service", "PodDisruptionBudget")
        return all([await kube.get(k, "default", "api") is None for k in kinds])

    await until(cluster, all_gone, "the owned objects garbage-collected")


async def test_an_existing_object_of_ours_is_adopted_not_duplicated(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await operator.stop()
    body = managed_service("api")
    created = await kube.create(body)
    orphan = build_all(ManagedService.model_validate(created), OperatorConfig())[-1]
    del orphan["metadata"]["ownerReferences"]
    await kube.create(orphan)
    await operator.start()
    await wait_ready(cluster, kube, "api")
    deployments = await kube.list("Deployment", "default")
    assert [d["metadata"]["name"] for d in deployments] == ["api"]
    assert deployments[0]["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]


async def test_an_object_owned_by_someone_else_is_refused(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    foreign = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api", "namespace": "default", "labels": {"team": "other"}},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "other"}},
    }
    await kube.create(foreign)
    await kube.create(managed_service("api", ports=[{"name": "http", "containerPort": 80}]))

    live = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready=False, InvalidSpec, for the foreign Service",
        satisfied=lambda live: condition(live, "Ready").get("reason") == "InvalidSpec",
    )
    assert live is not None
    assert "not managed by this ManagedService" in condition(live, "Ready")["message"]
    assert live["status"]["phase"] == "Failed"
    service = await kube.get("Service", "default", "api")
    assert service is not None and service["metadata"]["labels"] == {"team": "other"}
    assert await kube.get("Deployment", "default", "api") is None  # nothing partial
    invalid = [e for e in await events_for(kube, "api") if e["reason"] == "InvalidSpec"]
    assert len(invalid) == 1
    assert invalid[0]["type"] == "Warning"


async def test_an_unbuildable_spec_is_invalid_until_fixed(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    body = managed_service(
        "api",
        ports=[{"name": "http", "containerPort": 80}],
        probes={"readiness": {"http": {"path": "/", "port": "web"}}},
    )
    await kube.create(body)

    live = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "api"),
        "Ready=False, InvalidSpec",
        satisfied=lambda live: condition(live, "Ready").get("reason") == "InvalidSpec",
    )
    assert live is not None
    assert "spec.probes.readiness.http.port" in condition(live, "Ready")["message"]
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert await kube.get(kind, "default", "api") is None, f"partial {kind}"
    await operator.idle()
    assert [e["reason"] for e in await events_for(kube, "api")].count("InvalidSpec") == 1
    live["spec"]["probes"]["readiness"]["http"]["port"] = "http"
    await kube.replace(live)
    await wait_ready(cluster, kube, "api")


async def test_a_missing_secret_is_invalid_until_it_appears(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    assert operator.controller is not None
    operator.controller.recheck_after = 0.2  # read by the operator thread
    await kube.create(managed_service("api", envFrom=[{"secretRef": {"name": "creds"}}]))

    async def invalid() -> dict[str, Any] | None:
        live = await kube.get("ManagedService", "default", "api")
        return live if condition(live, "Ready").get("reason") == "InvalidSpec" else None

    live = await until(cluster, invalid, "InvalidSpec for the missing Secret")
    assert "spec.envFrom[0]: Secret default/creds not found" in condition(live, "Ready")["message"]
    assert await kube.get("Deployment", "default", "api") is None
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "stringData": {"a": "b"},
        }
    )
    await wait_ready(cluster, kube, "api")


async def test_a_job_backed_service_succeeds(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    await kube.create(
        managed_service("migrate", image="sim/complete:1s-0", restartPolicy={"policy": "OnFailure"})
    )
    live = await wait_ready(cluster, kube, "migrate")
    assert live["status"]["phase"] == "Succeeded"
    assert live["status"]["workload"]["kind"] == "Job"


async def test_a_failing_job_is_failed(operator: Operator, kube: Kube, cluster: SimCluster) -> None:
    await kube.create(
        managed_service(
            "migrate",
            image="sim/complete:500ms-3",
            restartPolicy={"policy": "Never", "maxRestarts": 0},
        )
    )

    live = await until(
        cluster,
        lambda: kube.get("ManagedService", "default", "migrate"),
        "phase Failed",
        satisfied=lambda live: (live or {}).get("status", {}).get("phase") == "Failed",
        deadline=30,
    )
    assert live is not None
    assert condition(live, "Ready")["status"] == "False"


async def test_a_steady_state_resync_makes_no_writes(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    for name in ("a", "b", "c"):
        await kube.create(
            managed_service(name, replicas=2, ports=[{"name": "http", "containerPort": 80}])
        )
    for name in ("a", "b", "c"):
        await wait_ready(cluster, kube, name)
    await operator.idle()
    before = dict(cluster.requests)
    ms_events = [e for e in await kube.list("Event", "default") if _about_ms(e)]
    # A fresh operator relists everything and reconciles every service: nothing to write.
    await operator.stop()
    await operator.start()
    # The startup handler primes the caches and queues every service before kopf reports
    # ready, so once the queue is idle the new operator has seen and reconciled all three.
    await operator.idle()
    assert _all_seen(operator, 3), "the new operator has seen all services"
    new_writes = {
        k: n - before.get(k, 0)
        for k, n in cluster.requests.items()
        if k[0] in ("create", "update", "patch", "delete") and n != before.get(k, 0)
    }
    assert new_writes == {}
    assert [e for e in await kube.list("Event", "default") if _about_ms(e)] == ms_events


def _about_ms(event: dict[str, Any]) -> bool:
    return bool(event["involvedObject"]["kind"] == "ManagedService")


def _all_seen(operator: Operator, count: int) -> bool:
    assert operator.controller is not None
    return (
        len(operator.controller.cache.services) == count
        and operator.controller.stats.reconciles >= count
    )


async def test_killing_the_operator_mid_reconcile_converges_without_duplicates(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    names = [f"svc-{i}" for i in range(12)]
    for name in names:
        await kube.create(
            managed_service(name, replicas=2, ports=[{"name": "http", "containerPort": 80}])
        )

    async def some_written() -> bool:
        return cluster.writes("deployments") >= 3

    await until(cluster, some_written, "a few Deployments created")
    await operator.kill()
    await operator.start()
    for name in names:
        await wait_ready(cluster, kube, name, deadline=30)
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        live = sorted(
            o["metadata"]["name"]
            for o in await kube.list(kind, "default")
            if o["metadata"]["name"] != "kubernetes"
        )
        assert live == sorted(names), kind
    await operator.idle()
    for name in names:
        body = await kube.get("ManagedService", "default", name)
        assert is_ready(body)
        ready_events = [
            e
            for e in await events_for(kube, name)
            if e["reason"] == "Reconciled" and e["message"].startswith("Ready")
        ]
        # Events are posted before the status that records them: at least once, never lost.
        assert 1 <= len(ready_events) <= 2, (name, ready_events)


async def test_kubectl_get_msvc_shows_the_printer_columns(
    operator: Operator, kube: Kube, cluster: SimCluster, kubeconfig: Any
) -> None:
    import subprocess
    import sys
    from pathlib import Path

    await kube.create(managed_service("api"))
    await wait_ready(cluster, kube, "api")
    kubectl = str(Path(sys.executable).with_name("kubectl"))
    result = await asyncio.to_thread(
        subprocess.run,
        [kubectl, "--kubeconfig", str(kubeconfig), "get", "msvc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "PHASE", "RESTARTS", "BLOCKED-BY", "AGE"]
    assert row.split()[:4] == ["api", "True", "Running", "0"]
