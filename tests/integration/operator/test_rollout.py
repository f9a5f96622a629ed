"""An edit to the spec rolls out: Progressing while it does, then Ready at the new generation."""

from __future__ import annotations

from typing import Any

from harness import Operator, condition, events_for, managed_service, wait_ready
from waiting import until

from tend.runtime.kube import Kube
from tend_sim import SimCluster


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


async def test_events_name_tend_as_their_reporting_controller_and_this_pod_as_instance(
    kube: Kube, cluster: SimCluster, kubeconfig: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("POD_NAME", "tend-7d9c-x2x4p")  # the downward API, in deploy/
    op = Operator(kubeconfig, cluster)
    await op.start()
    try:
        await kube.create(managed_service("api"))
        await wait_ready(cluster, kube, "api")
        events = await events_for(kube, "api")
    finally:
        await op.stop()
    assert {e["reason"] for e in events} == {"RolloutInProgress", "Reconciled"}
    for event in events:
        assert event["reportingComponent"] == "tend.dev/tend"
        assert event["reportingInstance"] == "tend-7d9c-x2x4p"
        assert event["source"] == {"component": "tend"}
