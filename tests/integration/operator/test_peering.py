"""Active/standby: two operators peer through the ClusterKopfPeering; one works at a time."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import yaml
from harness import managed_service, wait_ready
from waiting import until

from tend.api.config import OperatorConfig
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import Kube
from tend_sim import SimCluster
from tend_sim.embedded import EmbeddedOperator

PEERING = Path(__file__).resolve().parents[3] / "deploy" / "base" / "peering.yaml"
# What each operator watches (kopf's handlers), as kopf names the resources in its logs.
WATCHED = {
    "managedservices.v1alpha1.tend.dev",
    "deployments.v1.apps",
    "jobs.v1.batch",
    "services.v1",
    "poddisruptionbudgets.v1.policy",
    "endpointslices.v1.discovery.k8s.io",
}
STREAM_PAUSED = re.compile(r"^Pausing the watch-stream for (\S+) ")


def peer(kubeconfig: Path, cluster: SimCluster, priority: int) -> EmbeddedOperator:
    return EmbeddedOperator(
        RunOptions(
            kubeconfig=kubeconfig,
            liveness_port=None,
            standalone=False,
            peering="tend",
            priority=priority,
            config=OperatorConfig(),
            clock=cluster.clock.now,
            clock_speed=cluster.clock.speed,
        )
    )


async def test_only_the_higher_priority_operator_works_and_the_other_takes_over(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kopf")
    docs = list(yaml.safe_load_all(PEERING.read_text()))
    for doc in docs:
        if doc["kind"] == "CustomResourceDefinition":
            cluster.register_crd(doc)
    peering = next(d for d in docs if d["kind"] == "ClusterKopfPeering")
    cluster.store.create(cluster.store.resource("clusterkopfpeerings", "kopf.dev"), peering)
    active, standby = peer(kubeconfig, cluster, 100), peer(kubeconfig, cluster, 10)
    await active.start()
    await standby.start()
    try:
        # Until the standby has seen the active peer, kopf cannot know it should pause (a
        # start-up window kopf documents); and it logs that decision before its watch-streams
        # stop, so an event still in flight on one of them would reach the standby's
        # controller. Each stream logs (at debug) when it stops for the pause: wait for all.
        await until(
            cluster,
            lambda: _paused_streams(caplog),
            "every watch-stream of the standby paused in favour of the active peer",
            satisfied=lambda paused: paused >= WATCHED,
            logs=True,
        )
        await kube.create(managed_service("api"))
        await wait_ready(cluster, kube, "api", deadline=30)
        assert active.controller is not None and standby.controller is not None
        assert active.controller.stats.reconciles > 0
        assert standby.controller.stats.reconciles == 0, "the standby must not act"
        # The active one leaves (graceful stop removes it from the peering): the standby
        # resumes, lists everything and takes over new work.
        await active.stop()
        await kube.create(managed_service("web"))
        await wait_ready(cluster, kube, "web", deadline=60)
        assert standby.controller.stats.reconciles > 0
    finally:
        await standby.stop()
        await active.stop()


def _paused_streams(caplog: pytest.LogCaptureFixture) -> set[str]:
    found = (STREAM_PAUSED.match(r.getMessage()) for r in caplog.records)
    return {match.group(1) for match in found if match}
