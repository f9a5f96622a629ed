"""Deleting a ManagedService deletes what it owns."""

from __future__ import annotations

from harness import Operator, managed_service, wait_ready
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster


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
