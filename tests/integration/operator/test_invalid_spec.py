"""A spec that cannot be built is reported invalid (once, nothing partial created) until fixed."""

from __future__ import annotations

from pathlib import Path

from harness import Operator, condition, events_for, managed_service, wait_ready
from waiting import until

from tend.api.config import OperatorConfig
from tend.runtime.kube import Kube
from tend_sim import SimCluster


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


async def test_an_unknown_receiver_is_invalid_like_tend_check_says(
    kubeconfig: Path, kube: Kube, cluster: SimCluster
) -> None:
    config = OperatorConfig(
        receivers=[{"name": "team-slack", "type": "slack", "url_file": "/run/slack-url"}]
    )
    operator = Operator(kubeconfig, cluster, config)
    await operator.start()
    try:
        alerts = {"escalation": [{"afterFailures": 3, "receivers": ["team-slak"]}]}
        await kube.create(managed_service("api", alerts=alerts))
        live = await until(
            cluster,
            lambda: kube.get("ManagedService", "default", "api"),
            "Ready=False, InvalidSpec, for the unknown receiver",
            satisfied=lambda live: condition(live, "Ready").get("reason") == "InvalidSpec",
        )
        message = condition(live, "Ready")["message"]
        assert "spec.alerts.escalation[0].receivers: unknown receiver 'team-slak'" in message
        assert "(configured: team-slack)" in message
        assert await kube.get("Deployment", "default", "api") is None
    finally:
        await operator.stop()
