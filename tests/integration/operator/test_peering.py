"""Active/standby: two operators peer through the ClusterKopfPeering; one works at a time.
With mandatory peering (what deploy/components/ha runs) a missing peering CRD or object is a
start-up error, and a peering object deleted under a running operator pauses it."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import managed_service, wait_ready
from waiting import until

from tend.api.config import OperatorConfig
from tend.runtime.handlers import RunOptions
from tend.runtime.kube import Kube
from tend_sim import SimCluster
from tend_sim.embedded import EmbeddedOperator

PEERING = Path(__file__).resolve().parents[3] / "deploy" / "peering" / "peering.yaml"
TEND = Path(sys.executable).with_name("tend")
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


def peer(
    kubeconfig: Path, cluster: SimCluster, priority: int, *, mandatory: bool = True
) -> EmbeddedOperator:
    return EmbeddedOperator(
        RunOptions(
            kubeconfig=kubeconfig,
            liveness_port=None,
            standalone=False,
            peering="tend",
            peering_mandatory=mandatory,
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
    install_peering(cluster)
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
        # tend's own gate reads the same peering object through a watch of its own, which
        # may deliver the active peer's record a moment after kopf's did (the same start-up
        # window): the standby has seen it once its gate is closed too.
        await until(
            cluster,
            lambda: standby.controller is not None and not standby.controller.gate.active.is_set(),
            "the standby's own gate closed in favour of the active peer",
            satisfied=bool,
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


def install_peering(cluster: SimCluster, *, crds: bool = True, peering: bool = True) -> None:
    """deploy/peering: kopf's peering CRDs, and the ClusterKopfPeering `tend`."""
    docs = list(yaml.safe_load_all(PEERING.read_text()))
    for doc in docs:
        if doc["kind"] == "CustomResourceDefinition" and crds:
            cluster.register_crd(doc)
    if peering:
        body = next(d for d in docs if d["kind"] == "ClusterKopfPeering")
        cluster.store.create(cluster.store.resource("clusterkopfpeerings", "kopf.dev"), body)


async def tend_run(kubeconfig: Path, *args: str) -> tuple[int, str]:
    """`tend run` as a pod would run it, until it exits (within 60 s); (exit code, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        str(TEND), "run", "--kubeconfig", str(kubeconfig), "--metrics-port", "0",
        "--health-port", "0", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("tend run kept running without its mandatory peering") from None
    return proc.returncode or 0, err.decode()


async def test_mandatory_peering_without_the_crd_is_a_start_up_error(
    cluster: SimCluster, kubeconfig: Path
) -> None:
    code, err = await tend_run(kubeconfig, "--peering-mandatory")
    assert code == 2, err
    assert "tend: peering is mandatory (--peering-mandatory) but the ClusterKopfPeering CRD " \
        "(kopf.dev) is not installed: kubectl apply -k deploy/peering" in err, err  # fmt: skip


async def test_mandatory_peering_without_the_object_is_a_start_up_error_naming_it(
    cluster: SimCluster, kubeconfig: Path
) -> None:
    install_peering(cluster, peering=False)
    code, err = await tend_run(kubeconfig, "--peering-mandatory", "--peering", "tend")
    assert code == 2, err
    assert "peering is mandatory but ClusterKopfPeering 'tend' does not exist" in err, err
    # Namespaced: the KopfPeering of each watched namespace.
    code, err = await tend_run(kubeconfig, "--peering-mandatory", "-n", "shop")
    assert code == 2, err
    assert "KopfPeering 'tend' in namespace 'shop' does not exist" in err, err


async def test_standalone_and_mandatory_peering_contradict_each_other(kubeconfig: Path) -> None:
    code, err = await tend_run(kubeconfig, "--peering-mandatory", "--standalone")
    assert code == 2, err
    flat = " ".join(err.replace("│", " ").split())  # typer draws a box around usage errors
    assert "use either --standalone or --peering-mandatory" in flat, err


async def test_without_mandatory_peering_a_missing_crd_means_running_alone(
    cluster: SimCluster, kube: Kube, kubeconfig: Path
) -> None:
    alone = peer(kubeconfig, cluster, 0, mandatory=False)
    await alone.start()
    try:
        await kube.create(managed_service("api"))
        await wait_ready(cluster, kube, "api", deadline=30)
    finally:
        await alone.stop()


async def test_a_mandatory_peering_object_deleted_under_a_running_operator_pauses_it(
    cluster: SimCluster, kube: Kube, kubeconfig: Path
) -> None:
    install_peering(cluster)
    only = peer(kubeconfig, cluster, 0)
    await only.start()
    try:
        await kube.create(managed_service("api"))
        await wait_ready(cluster, kube, "api", deadline=30)
        assert only.controller is not None
        gate = only.controller.gate
        assert gate.active.is_set()
        await kube.delete("ClusterKopfPeering", None, "tend")
        # It says so in its log (which wakes the wait: the pause itself writes nothing).
        await until(
            cluster, lambda: not gate.active.is_set(), "the operator paused", deadline=30, logs=True
        )
    finally:
        await only.stop()


def _paused_streams(caplog: pytest.LogCaptureFixture) -> set[str]:
    found = (STREAM_PAUSED.match(r.getMessage()) for r in caplog.records)
    return {match.group(1) for match in found if match}


async def test_the_pods_name_is_the_peer_id_and_the_events_reporting_instance(
    cluster: SimCluster, kube: Kube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # deploy/manager passes the pod's name from the downward API (POD_NAME).
    monkeypatch.setenv("POD_NAME", "tend-5d8f7c9b4-x2v7q")
    install_peering(cluster)
    only = peer(kubeconfig, cluster, 0)
    await only.start()
    try:
        await kube.create(managed_service("api"))
        await wait_ready(cluster, kube, "api", deadline=30)
        events = await until(cluster, lambda: tends_events(kube), "an Event on the ManagedService")
        assert {e.get("reportingInstance") for e in events} == {"tend-5d8f7c9b4-x2v7q"}
        peering = await kube.list("ClusterKopfPeering")
        assert "tend-5d8f7c9b4-x2v7q" in (peering[0].get("status") or {})
    finally:
        await only.stop()


async def tends_events(kube: Kube) -> list[dict[str, Any]]:
    events = await kube.list("Event", "default")
    return [e for e in events if e["involvedObject"]["kind"] == "ManagedService"]
