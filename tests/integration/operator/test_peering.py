"""Active/standby: two operators peer through the ClusterKopfPeering; one works at a time."""

from __future__ import annotations

from pathlib import Path

import yaml
from harness import eventually, managed_service, wait_ready

from tend.config import OperatorConfig
from tend.embedded import EmbeddedOperator
from tend.handlers import RunOptions
from tend.kube import Kube
from tend.sim import SimCluster

PEERING = Path(__file__).resolve().parents[3] / "deploy" / "base" / "peering.yaml"


def peer(kubeconfig: Path, priority: int) -> EmbeddedOperator:
    return EmbeddedOperator(
        RunOptions(
            kubeconfig=kubeconfig,
            liveness_port=None,
            standalone=False,
            peering="tend",
            priority=priority,
            config=OperatorConfig(),
        )
    )


async def test_only_the_higher_priority_operator_works_and_the_other_takes_over(
    cluster: SimCluster, kube: Kube, kubeconfig: Path
) -> None:
    docs = list(yaml.safe_load_all(PEERING.read_text()))
    for doc in docs:
        if doc["kind"] == "CustomResourceDefinition":
            cluster.register_crd(doc)
    peering = next(d for d in docs if d["kind"] == "ClusterKopfPeering")
    cluster.store.create(cluster.store.resource("clusterkopfpeerings", "kopf.dev"), peering)
    active, standby = peer(kubeconfig, priority=100), peer(kubeconfig, priority=10)
    await active.start()
    await standby.start()
    try:
        # Peering settles once both have announced themselves in the ClusterKopfPeering;
        # until then kopf cannot know who should pause (a documented start-up window).
        await eventually(lambda: _peers(cluster, 2), what="both operators in the peering")
        await kube.create(managed_service("api"))
        await wait_ready(kube, "api", deadline=30)
        assert active.controller is not None and standby.controller is not None
        assert active.controller.stats.reconciles > 0
        assert standby.controller.stats.reconciles == 0, "the standby must not act"
        # The active one leaves (graceful stop removes it from the peering): the standby
        # resumes, lists everything and takes over new work.
        await active.stop()
        await kube.create(managed_service("web"))
        await wait_ready(kube, "web", deadline=60)
        assert standby.controller.stats.reconciles > 0
    finally:
        await standby.stop()
        await active.stop()


async def _peers(cluster: SimCluster, count: int) -> bool:
    rt = cluster.store.resource("clusterkopfpeerings", "kopf.dev")
    status = cluster.store.get(rt, None, "tend").get("status") or {}
    return len(status) >= count
