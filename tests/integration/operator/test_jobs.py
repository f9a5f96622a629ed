"""Services that run to completion are Jobs: Succeeded, or Failed."""

from __future__ import annotations

from harness import Operator, condition, managed_service, wait_ready
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster


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
