"""Namespaced mode (deploy/components/namespaced: `tend run --namespace=$(POD_NAMESPACE)`):
the operator serves its namespace and leaves every other alone, with kopf's cluster scanning
off (its Role grants no namespace or CRD watch)."""

from __future__ import annotations

from pathlib import Path

from harness import managed_service, wait_ready

from tend.api.config import OperatorConfig
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import Kube
from tend_sim import SimCluster
from tend_sim.embedded import EmbeddedOperator


async def test_a_namespaced_operator_serves_only_its_namespace(
    cluster: SimCluster, kube: Kube, kubeconfig: Path
) -> None:
    for name in ("shop", "other"):
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    operator = EmbeddedOperator(
        RunOptions(
            kubeconfig=kubeconfig,
            namespaces=["shop"],
            standalone=True,
            liveness_port=None,
            config=OperatorConfig(),
            clock=cluster.clock.now,
            clock_speed=cluster.clock.speed,
        )
    )
    await operator.start()
    try:
        await kube.create(managed_service("elsewhere", "other"))
        await kube.create(managed_service("api", "shop"))
        await wait_ready(cluster, kube, "api", "shop", deadline=30)
        ignored = await kube.get("ManagedService", "other", "elsewhere")
        assert ignored is not None
        assert "status" not in ignored, "a namespaced operator must not touch other namespaces"
        assert await kube.get("Deployment", "other", "elsewhere") is None
    finally:
        await operator.stop()
