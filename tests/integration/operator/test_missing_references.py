"""A Secret or ConfigMap the spec refers to that does not exist yet."""

from __future__ import annotations

from typing import Any

from harness import Operator, condition, managed_service, wait_ready
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster


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
