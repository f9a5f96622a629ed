"""A service whose pods no node can take is reported Unschedulable, with the scheduler's
message, and recovers once it asks for what the node has."""

from __future__ import annotations

from harness import Operator, condition, edit, managed_service
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster


async def test_requests_beyond_the_node_make_the_service_unschedulable(
    operator: Operator, kube: Kube, cluster: SimCluster
) -> None:
    resources = {"requests": {"cpu": "5000", "memory": "256Mi"}}
    await kube.create(managed_service("big", resources=resources))

    async def ready() -> dict[str, str]:
        return condition(await kube.get("ManagedService", "default", "big"), "Ready")

    cond = await until(
        cluster,
        ready,
        "Ready=False reason Unschedulable",
        satisfied=lambda c: c.get("reason") == "Unschedulable",
        deadline=30,
    )
    assert cond["status"] == "False"
    assert "0/1 nodes are available: 1 Insufficient cpu." in cond["message"]
    await edit(kube, "big", lambda body: body["spec"].update(resources={"requests": {"cpu": "1"}}))
    cond = await until(
        cluster,
        ready,
        "Ready=True",
        satisfied=lambda c: c.get("status") == "True",
        deadline=30,
    )
    assert cond["status"] == "True"
